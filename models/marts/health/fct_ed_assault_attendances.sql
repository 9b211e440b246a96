-- One row per attendance at a London emergency department by a patient who says they were assaulted
-- (ISTV, ISB 1594): when they arrived and were assaulted (to the hour), at which site, by what means
-- and in what kind of place. The month is the arrival month: always known, and the month the site reports.
{{ config(month_column='incident_month') }}
with

attendances as (
    select * from {{ ref('istv_assault_attendances') }}
),

sites as (
    select * from {{ ref('hospital_sites') }}
),

methods as (
    select * from {{ ref('istv_assault_methods') }}
),

location_types as (
    select * from {{ ref('istv_location_types') }}
),

final as (
    select
        attendances.attendance_key,
        attendances.arrival_month as incident_month,
        attendances.arrival_date,
        attendances.arrival_hour,
        attendances.assault_hour,
        attendances.site_code,
        sites.site_name,
        sites.trust_code,
        sites.borough_code,
        attendances.assault_method_code,
        attendances.location_type_code,
        coalesce(methods.assault_method_name, 'Not known') as assault_method,
        coalesce(location_types.location_type_name, 'Not known') as location_type,
        coalesce(methods.incident_category_code, 'violence_unspecified') as incident_category_code
    from attendances
    inner join sites
        on attendances.site_code = sites.site_code
    left join methods
        on attendances.assault_method_code = methods.assault_method_code
    left join location_types
        on attendances.location_type_code = location_types.location_type_code
    where attendances.site_status = 'ok'
)

select * from final
