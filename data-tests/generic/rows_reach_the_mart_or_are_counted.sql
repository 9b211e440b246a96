{#- Row conservation into a fact mart, for one dataset (attach it to the mart, naming the dataset's staging,
    suppressed and quality exclusions models): for every agency and month, the staged rows equal the
    suppressed rows, and the suppressed rows equal the mart's rows plus the rows the exclusions model counts
    (its columns dataset, agency, period_month, excluded_row_count); for every load, the staged rows equal
    the suppressed rows. A dataset without a suppressed model (police.uk: the mart and its exclusions read
    the suppressed model, checked against staging by assert_suppressed_rows_match_staging) compares the
    staged rows with the mart and the exclusions directly: staging stands in for the suppressed model.
    Each side's month and agency is an expression over that model's columns: the month defaults to
    incident_month (a suppressed model's month to the staged month when there is none), the agency to
    agency. Every row of the exclusions model counts under its own dataset name, so rows counted under a
    name that is not this dataset fail the test. -#}
{% test rows_reach_the_mart_or_are_counted(
    model, dataset, staged, exclusions, suppressed=none, month='incident_month', staged_month=none,
    suppressed_month=none, mart_month=none, agency='agency', mart_agency=none
) %}
{%- set staged_month = staged_month or month %}
{%- set suppressed_month = suppressed_month or (month if suppressed else staged_month) %}
{%- set suppressed = suppressed or staged %}
{%- set mart_month = mart_month or month %}
{%- set mart_agency = mart_agency or agency %}

with

per_month as (
    select
        '{{ dataset }}' as dataset,
        'staged' as layer,
        {{ agency }} as agency,
        ({{ staged_month }})::date as period_month,
        count(*) as row_count
    from {{ staged }}
    group by {{ agency }}, {{ staged_month }}
    union all
    select
        '{{ dataset }}' as dataset,
        'suppressed' as layer,
        {{ agency }} as agency,
        ({{ suppressed_month }})::date as period_month,
        count(*) as row_count
    from {{ suppressed }}
    group by {{ agency }}, {{ suppressed_month }}
    union all
    select
        '{{ dataset }}' as dataset,
        'mart' as layer,
        {{ mart_agency }} as agency,
        ({{ mart_month }})::date as period_month,
        count(*) as row_count
    from {{ model }}
    group by {{ mart_agency }}, {{ mart_month }}
    union all
    select
        dataset,
        'excluded' as layer,
        agency,
        period_month,
        sum(excluded_row_count) as row_count
    from {{ exclusions }}
    group by dataset, agency, period_month
),

per_load as (
    select
        load_id,
        'staged' as layer,
        count(*) as row_count
    from {{ staged }}
    group by load_id
    union all
    select
        load_id,
        'suppressed' as layer,
        count(*) as row_count
    from {{ suppressed }}
    group by load_id
),

month_counts as (
    select
        dataset,
        agency,
        period_month,
        coalesce(sum(row_count) filter (where layer = 'staged'), 0) as staged_row_count,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as suppressed_row_count,
        coalesce(sum(row_count) filter (where layer = 'mart'), 0) as mart_row_count,
        coalesce(sum(row_count) filter (where layer = 'excluded'), 0) as excluded_row_count
    from per_month
    group by dataset, agency, period_month
),

load_counts as (
    select
        load_id,
        coalesce(sum(row_count) filter (where layer = 'staged'), 0) as staged_row_count,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as suppressed_row_count
    from per_load
    group by load_id
),

month_problems as (
    select
        'month: staged, suppressed, {{ model.identifier }} and excluded rows do not add up' as problem,
        dataset,
        agency,
        period_month,
        null::bigint as load_id,
        staged_row_count,
        suppressed_row_count,
        mart_row_count,
        excluded_row_count
    from month_counts
    where
        staged_row_count != suppressed_row_count
        or suppressed_row_count != mart_row_count + excluded_row_count
),

load_problems as (
    select
        'load: staged and suppressed rows differ' as problem,
        '{{ dataset }}' as dataset,
        null::text as agency,
        null::date as period_month,
        load_id,
        staged_row_count,
        suppressed_row_count,
        null::bigint as mart_row_count,
        null::bigint as excluded_row_count
    from load_counts
    where staged_row_count != suppressed_row_count
)

select * from month_problems
union all
select * from load_problems

{% endtest %}
