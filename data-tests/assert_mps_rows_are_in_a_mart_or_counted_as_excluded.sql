-- sqlfluff:indentation:template_blocks_indent:False
-- Row conservation for the MPS extracts: per active load, every raw row is staged and the privacy boundary
-- keeps every staged row; per dataset, agency and month, the suppressed rows are either in the London mart
-- or counted in quality.<dataset>_exclusions.
{%- set datasets = [
    {'name': 'crime_victims', 'identifier': 'mps_crime_victims', 'mart': 'fct_crime_victims', 'month': 'recorded_month'},
    {'name': 'crime_perpetrators', 'identifier': 'mps_crime_perpetrators', 'mart': 'fct_crime_perpetrators', 'month': 'recorded_month'},
    {'name': 'recorded_crime_outcomes', 'identifier': 'mps_recorded_crime_outcomes', 'mart': 'fct_recorded_crimes', 'month': 'recorded_month'},
    {'name': 'asb_incidents', 'identifier': 'mps_asb_incidents', 'mart': 'fct_asb_incidents', 'month': 'incident_month'},
] %}

with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

active_loads as (
    select load_id from loads
    where status = '{{ var("active_load_status") }}'
),

per_load as (
    select
        null::text as dataset,
        null::text as layer,
        null::bigint as load_id,
        null::bigint as row_count
    where false
    {%- for dataset in datasets %}
    union all
    select
        '{{ dataset.identifier }}' as dataset,
        'raw' as layer,
        raw_rows._load_id as load_id,
        count(*) as row_count
    from {{ source('mps', dataset.name) }} as raw_rows
    inner join active_loads
        on raw_rows._load_id = active_loads.load_id
    group by raw_rows._load_id
    union all
    select
        '{{ dataset.identifier }}' as dataset,
        'staged' as layer,
        load_id,
        count(*) as row_count
    from {{ ref('stg_mps__' ~ dataset.name) }}
    group by load_id
    union all
    select
        '{{ dataset.identifier }}' as dataset,
        'suppressed' as layer,
        load_id,
        count(*) as row_count
    from {{ ref(dataset.identifier) }}
    group by load_id
    {%- endfor %}
),

per_month as (
    select
        null::text as dataset,
        null::text as layer,
        null::text as agency,
        null::date as period_month,
        null::bigint as row_count
    where false
    {%- for dataset in datasets %}
    union all
    select
        '{{ dataset.identifier }}' as dataset,
        'suppressed' as layer,
        agency,
        {{ dataset.month }} as period_month,
        count(*) as row_count
    from {{ ref(dataset.identifier) }}
    group by agency, {{ dataset.month }}
    union all
    select
        '{{ dataset.identifier }}' as dataset,
        'mart or excluded' as layer,
        agency,
        incident_month as period_month,
        count(*) as row_count
    from {{ ref(dataset.mart) }}
    group by agency, incident_month
    union all
    select
        dataset,
        'mart or excluded' as layer,
        agency,
        period_month,
        sum(excluded_row_count) as row_count
    from {{ ref(dataset.identifier ~ '_exclusions') }}
    group by dataset, agency, period_month
    {%- endfor %}
),

load_problems as (
    select
        dataset,
        'load ' || load_id as scope,
        coalesce(sum(row_count) filter (where layer = 'raw'), 0) as upstream_row_count,
        coalesce(sum(row_count) filter (where layer = 'staged'), 0) as staged_row_count,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as downstream_row_count
    from per_load
    group by dataset, load_id
    having
        coalesce(sum(row_count) filter (where layer = 'raw'), 0)
        != coalesce(sum(row_count) filter (where layer = 'staged'), 0)
        or coalesce(sum(row_count) filter (where layer = 'staged'), 0)
        != coalesce(sum(row_count) filter (where layer = 'suppressed'), 0)
),

month_problems as (
    select
        dataset,
        agency || ' ' || period_month as scope,
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0) as upstream_row_count,
        null::bigint as staged_row_count,
        coalesce(sum(row_count) filter (where layer = 'mart or excluded'), 0) as downstream_row_count
    from per_month
    group by dataset, agency, period_month
    having
        coalesce(sum(row_count) filter (where layer = 'suppressed'), 0)
        != coalesce(sum(row_count) filter (where layer = 'mart or excluded'), 0)
),

problems as (
    select * from load_problems
    union all
    select * from month_problems
)

select * from problems
