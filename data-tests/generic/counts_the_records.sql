{#- A monthly summary mart holds exactly its record-level mart's counts: for every combination of `columns` (the
    summary's grouping columns, named as in `records`), the summary's `count_column` equals the number of
    records, both ways (a group missing from either side, or a different count, fails). During a refresh, the
    months the refresh rebuilt in the summary (macros/refresh_rows.sql), on the month column both share; every
    month in a full build. -#}
{% test counts_the_records(model, records, count_column, columns) %}
{%- set rebuilt = refresh_rows_filter(model) or 'true' %}

with

summarised as (
    select
        {{ columns | join(', ') }},
        {{ count_column }} as row_count
    from {{ model }}
    where {{ rebuilt }}
),

counted as (
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ records }}
    where {{ rebuilt }}
    group by {{ columns | join(', ') }}
),

summary_only as (
    select * from summarised
    except all
    select * from counted
),

records_only as (
    select * from counted
    except all
    select * from summarised
),

final as (
    select
        'in the summary, not counted from the records' as difference,
        *
    from summary_only
    union all
    select
        'counted from the records, not in the summary' as difference,
        *
    from records_only
)

select * from final

{% endtest %}
