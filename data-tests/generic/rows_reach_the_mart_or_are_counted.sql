{#- Row conservation into a fact mart, for one dataset (attach it to the mart, naming the dataset's staging,
    suppressed and quality exclusions models): for every load, agency and month, the staged rows equal the
    suppressed rows; for every agency and month, the suppressed rows equal the mart's rows plus the rows the
    exclusions model counts (its columns dataset, agency, period_month, excluded_row_count).
    Each side's month and agency is an expression over that model's columns: the month defaults to
    incident_month (the staged and suppressed months to it), the agency to agency. Every row of the
    exclusions model counts under its own dataset name, so rows counted under a name that is not this dataset
    fail the test.
    During a refresh, conservation holds load by load and month by month for what the refresh rebuilt
    (macros/refresh_rows.sql): the loads it rebuilt into the suppressed table (staged against suppressed), and
    the months it rebuilt in the mart (suppressed against the mart and the exclusions); the rest held when it
    was built. A full build, and a build without the refresh's var, compares every load and month. -#}
{% test rows_reach_the_mart_or_are_counted(
    model, dataset, staged, suppressed, exclusions, month='incident_month', staged_month=none,
    suppressed_month=none, mart_month=none, agency='agency', mart_agency=none
) %}
{%- set staged_month = staged_month or month %}
{%- set suppressed_month = suppressed_month or month %}
{%- set mart_month = mart_month or month %}
{%- set mart_agency = mart_agency or agency %}
{%- set rebuilt_loads = refresh_rows_filter(suppressed) %}
{%- set rebuilt_months = refresh_rows_filter(model) %}
{%- set mart_name = model.schema ~ '.' ~ model.identifier %}

{%- set suppressed_in_months = 'true' if rebuilt_months is none
    else refresh_changed_months_filter([mart_name], '(' ~ suppressed_month ~ ')::date') %}
{%- set mart_in_months = 'true' if rebuilt_months is none
    else refresh_changed_months_filter([mart_name], '(' ~ mart_month ~ ')::date') %}
{%- set excluded_in_months = 'true' if rebuilt_months is none
    else refresh_changed_months_filter([mart_name], 'period_month') %}

with

per_load_month as (
    select
        load_id,
        {{ agency }} as agency,
        ({{ staged_month }})::date as period_month,
        'staged' as layer,
        count(*) as row_count
    from {{ staged }}
    where {{ rebuilt_loads or 'true' }}
    group by load_id, {{ agency }}, {{ staged_month }}
    union all
    select
        load_id,
        {{ agency }} as agency,
        ({{ suppressed_month }})::date as period_month,
        'suppressed' as layer,
        count(*) as row_count
    from {{ suppressed }}
    where {{ rebuilt_loads or 'true' }}
    group by load_id, {{ agency }}, {{ suppressed_month }}
),

per_month as (
    select
        '{{ dataset }}' as dataset,
        'suppressed' as layer,
        {{ agency }} as agency,
        ({{ suppressed_month }})::date as period_month,
        count(*) as row_count
    from {{ suppressed }}
    where {{ suppressed_in_months }}
    group by {{ agency }}, {{ suppressed_month }}
    union all
    select
        '{{ dataset }}' as dataset,
        'mart' as layer,
        {{ mart_agency }} as agency,
        ({{ mart_month }})::date as period_month,
        count(*) as row_count
    from {{ model }}
    where {{ mart_in_months }}
    group by {{ mart_agency }}, {{ mart_month }}
    union all
    select
        dataset,
        'excluded' as layer,
        agency,
        period_month,
        sum(excluded_row_count) as row_count
    from {{ exclusions }}
    where {{ excluded_in_months }}
    group by dataset, agency, period_month
),

load_month_counts as (
    select
        load_id,
        agency,
        period_month,
        coalesce(sum(row_count) filter (where layer = 'staged'), 0) as staged_row_count,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as suppressed_row_count
    from per_load_month
    group by load_id, agency, period_month
),

month_counts as (
    select
        dataset,
        agency,
        period_month,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as suppressed_row_count,
        coalesce(sum(row_count) filter (where layer = 'mart'), 0) as mart_row_count,
        coalesce(sum(row_count) filter (where layer = 'excluded'), 0) as excluded_row_count
    from per_month
    group by dataset, agency, period_month
),

load_problems as (
    select
        'load: staged and suppressed rows differ' as problem,
        '{{ dataset }}' as dataset,
        agency,
        period_month,
        load_id,
        staged_row_count,
        suppressed_row_count,
        null::bigint as mart_row_count,
        null::bigint as excluded_row_count
    from load_month_counts
    where staged_row_count != suppressed_row_count
),

month_problems as (
    select
        'month: suppressed, {{ model.identifier }} and excluded rows do not add up' as problem,
        dataset,
        agency,
        period_month,
        null::bigint as load_id,
        null::bigint as staged_row_count,
        suppressed_row_count,
        mart_row_count,
        excluded_row_count
    from month_counts
    where suppressed_row_count != mart_row_count + excluded_row_count
)

select * from load_problems
union all
select * from month_problems

{% endtest %}
