-- Row conservation for the MPS extracts: per active load, every raw row is staged and the privacy boundary
-- keeps every staged row; per dataset, agency and month, the suppressed rows are either in the London mart
-- or counted in quality.<dataset>_exclusions.
{%- set datasets = [
    {'name': 'crime_victims', 'mart': 'fct_crime_victims', 'month': 'recorded_month'},
    {'name': 'crime_perpetrators', 'mart': 'fct_crime_perpetrators', 'month': 'recorded_month'},
    {'name': 'recorded_crime_outcomes', 'mart': 'fct_recorded_crimes', 'month': 'recorded_month'},
    {'name': 'asb_incidents', 'mart': 'fct_asb_incidents', 'month': 'incident_month'},
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
    {%- for dataset in datasets %}
    {%- set identifier = 'mps_' ~ dataset.name %}
    select
        '{{ identifier }}' as dataset,
        'raw' as layer,
        raw_rows._load_id as load_id,
        count(*) as row_count
    from {{ source('mps', dataset.name) }} as raw_rows
    inner join active_loads
        on raw_rows._load_id = active_loads.load_id
    group by raw_rows._load_id
    union all
    select
        '{{ identifier }}' as dataset,
        'staged' as layer,
        load_id,
        count(*) as row_count
    from {{ ref('stg_mps__' ~ dataset.name) }}
    group by load_id
    union all
    select
        '{{ identifier }}' as dataset,
        'suppressed' as layer,
        load_id,
        count(*) as row_count
    from {{ ref(identifier) }}
    group by load_id
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
),

per_month as (
    {%- for dataset in datasets %}
    {%- set identifier = 'mps_' ~ dataset.name %}
    select
        '{{ identifier }}' as dataset,
        'suppressed' as layer,
        agency,
        {{ dataset.month }} as period_month,
        count(*) as row_count
    from {{ ref(identifier) }}
    group by agency, {{ dataset.month }}
    union all
    select
        '{{ identifier }}' as dataset,
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
    from {{ ref(identifier ~ '_exclusions') }}
    group by dataset, agency, period_month
    {{- "\n    union all" if not loop.last }}
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
