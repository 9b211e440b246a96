-- Row conservation for the health datasets: for every dataset, agency and month, the staged rows equal
-- the suppressed rows, and the suppressed rows equal the mart rows plus the rows counted as excluded.
with

staged_dispatches as (
    select * from {{ ref('stg_las__violence_dispatches') }}
),

suppressed_dispatches as (
    select * from {{ ref('las_violence_dispatches') }}
),

dispatches as (
    select * from {{ ref('fct_ambulance_violence_dispatches') }}
),

dispatch_exclusions as (
    select * from {{ ref('las_violence_dispatch_exclusions') }}
),

staged_attendances as (
    select * from {{ ref('stg_istv__assault_attendances') }}
),

suppressed_attendances as (
    select * from {{ ref('istv_assault_attendances') }}
),

attendances as (
    select * from {{ ref('fct_ed_assault_attendances') }}
),

attendance_exclusions as (
    select * from {{ ref('istv_assault_attendance_exclusions') }}
),

counts as (
    select
        'las_violence_dispatches' as dataset,
        agency,
        date_trunc('month', incident_date)::date as period_month,
        count(*) as staged_row_count,
        0 as suppressed_row_count,
        0 as mart_row_count,
        0 as excluded_row_count
    from staged_dispatches
    group by agency, date_trunc('month', incident_date)
    union all
    select
        'las_violence_dispatches' as dataset,
        agency,
        incident_month as period_month,
        0 as staged_row_count,
        count(*) as suppressed_row_count,
        0 as mart_row_count,
        0 as excluded_row_count
    from suppressed_dispatches
    group by agency, incident_month
    union all
    select
        'las_violence_dispatches' as dataset,
        agency,
        incident_month as period_month,
        0 as staged_row_count,
        0 as suppressed_row_count,
        count(*) as mart_row_count,
        0 as excluded_row_count
    from dispatches
    group by agency, incident_month
    union all
    select
        dataset,
        agency,
        period_month,
        0 as staged_row_count,
        0 as suppressed_row_count,
        0 as mart_row_count,
        excluded_row_count
    from dispatch_exclusions
    union all
    select
        'istv_assault_attendances' as dataset,
        agency,
        date_trunc('month', arrival_date)::date as period_month,
        count(*) as staged_row_count,
        0 as suppressed_row_count,
        0 as mart_row_count,
        0 as excluded_row_count
    from staged_attendances
    group by agency, date_trunc('month', arrival_date)
    union all
    select
        'istv_assault_attendances' as dataset,
        agency,
        date_trunc('month', arrival_date)::date as period_month,
        0 as staged_row_count,
        count(*) as suppressed_row_count,
        0 as mart_row_count,
        0 as excluded_row_count
    from suppressed_attendances
    group by agency, date_trunc('month', arrival_date)
    union all
    select
        'istv_assault_attendances' as dataset,
        lower(site_code) as agency,
        incident_month as period_month,
        0 as staged_row_count,
        0 as suppressed_row_count,
        count(*) as mart_row_count,
        0 as excluded_row_count
    from attendances
    group by site_code, incident_month
    union all
    select
        dataset,
        agency,
        period_month,
        0 as staged_row_count,
        0 as suppressed_row_count,
        0 as mart_row_count,
        excluded_row_count
    from attendance_exclusions
),

compared as (
    select
        dataset,
        agency,
        period_month,
        sum(staged_row_count) as staged_row_count,
        sum(suppressed_row_count) as suppressed_row_count,
        sum(mart_row_count) as mart_row_count,
        sum(excluded_row_count) as excluded_row_count
    from counts
    group by dataset, agency, period_month
)

select * from compared
where
    staged_row_count != suppressed_row_count
    or suppressed_row_count != mart_row_count + excluded_row_count
