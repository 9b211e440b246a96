-- At most one active load per dataset, agency and month: a revised file supersedes the older one,
-- so staging never holds two versions of a month.
with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

active_loads as (
    select
        dataset,
        agency,
        period,
        count(*) as active_load_count
    from loads
    where status = '{{ var("active_load_status") }}'
    group by dataset, agency, period
)

select * from active_loads
where active_load_count > 1
