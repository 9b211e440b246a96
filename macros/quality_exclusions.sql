{#- A quality exclusions count (models/quality/*_exclusions.sql): the rows of `relation` (a CTE or relation of one
    dataset) kept out of the marts, per agency, month and reason, in the columns every exclusions model has
    (dataset, agency, period_month, reason, excluded_row_count). A row is excluded when its `reason_column`
    is not `kept_value`, and that value is the reason ('outside_london', 'no_location', 'site_code_mismatch', ...). -#}
{% macro excluded_rows(dataset, relation, month_column, reason_column='location_status', kept_value='london') -%}
    select
        '{{ dataset }}' as dataset,
        agency,
        {{ month_column }} as period_month,
        {{ reason_column }} as reason,
        count(*) as excluded_row_count
    from {{ relation }}
    where {{ reason_column }} != '{{ kept_value }}'
    group by agency, {{ month_column }}, {{ reason_column }}
{%- endmacro %}

{#- The same count for the rows k-anonymity withholds: `relation` is a dataset's generalised records
    (generalised_to_k), whose `is_withheld` rows sit in a borough and month of fewer than k records. -#}
{% macro withheld_rows(dataset, relation, month_column='incident_month') -%}
    select
        '{{ dataset }}' as dataset,
        agency,
        {{ month_column }} as period_month,
        'borough_month_below_k' as reason,
        count(*) as excluded_row_count
    from {{ relation }}
    where is_withheld
    group by agency, {{ month_column }}
{%- endmacro %}
