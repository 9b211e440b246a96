-- Every ISTV file that arrived (loaded, superseded or quarantined), one row per file, with the month it
-- arrived in: the landing folder's YYYY-MM when the file sat in one (the landing convention: a month's
-- files land in that month's folder, a late file in the folder of the month it came), else the month
-- it was loaded in. The file's path itself stays here, before the privacy boundary.
with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

istv_loads as (
    select
        load_id,
        agency,
        period as period_month,
        status,
        rows_read,
        rows_loaded,
        rows_rejected,
        started_at,
        upper(agency) as site_code,
        substring(file_path from '/([0-9]{4}-[0-9]{2})/[^/]+$') as landing_folder_month
    from loads
    where dataset = '{{ source("istv", "assault_attendances").identifier }}'
),

dated as (
    select
        load_id,
        agency,
        site_code,
        period_month,
        status,
        rows_read,
        rows_loaded,
        rows_rejected,
        started_at as loaded_at,
        case
            when landing_folder_month is not null
                then to_date(landing_folder_month, 'YYYY-MM')
            else date_trunc('month', started_at at time zone 'Europe/London')::date
        end as arrival_month,
        landing_folder_month is not null as arrival_month_from_folder
    from istv_loads
)

select * from dated
