-- One row per LFB incident in a London borough, with its place in the incident taxonomy
-- (deliberate fire, accidental fire, false alarm, special service), property and response.
{{ config(month_column='incident_month') }}
with

incidents as (
    select * from {{ ref('lfb_incidents') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

categories as (
    select * from {{ ref('lfb_incident_categories') }}
),

london_incidents as (
    select * from incidents
    where location_status = 'london'
),

final as (
    select
        london_incidents.fire_incident_key,
        london_incidents.incident_pseudo_id,
        london_incidents.agency,
        london_incidents.incident_month,
        london_incidents.call_date,
        london_incidents.call_hour,
        london_incidents.borough_code,
        boroughs.borough_name,
        london_incidents.ward_code,
        london_incidents.incident_group,
        london_incidents.stop_code_description,
        london_incidents.special_service_type,
        london_incidents.fire_motive,
        london_incidents.property_category,
        london_incidents.property_type,
        london_incidents.incident_station_ground,
        london_incidents.first_pump_station,
        london_incidents.first_pump_attendance_seconds,
        london_incidents.second_pump_attendance_seconds,
        london_incidents.num_stations_with_pumps_attending,
        london_incidents.num_pumps_attending,
        london_incidents.pump_count,
        london_incidents.pump_hours,
        london_incidents.notional_cost_gbp,
        london_incidents.num_calls,
        case
            when london_incidents.incident_group = 'Fire' and london_incidents.fire_motive = 'deliberate'
                then 'deliberate_fire'
            when london_incidents.incident_group = 'Fire' and london_incidents.fire_motive = 'accidental'
                then 'accidental_fire'
            when categories.incident_category_code is not null then categories.incident_category_code
            when london_incidents.incident_group = 'False Alarm' then 'false_alarm'
            when london_incidents.incident_group = 'Special Service' then 'special_service'
            else 'other'
        end as incident_category_code,
        case
            when
                london_incidents.incident_group = 'Fire'
                and london_incidents.fire_motive in ('deliberate', 'accidental')
                then 'recorded_motive'
            when categories.category_basis is not null then categories.category_basis
            else 'incident_group'
        end as category_basis
    from london_incidents
    inner join boroughs
        on london_incidents.borough_code = boroughs.borough_code
    left join categories
        on
            london_incidents.incident_group = categories.incident_group
            and london_incidents.stop_code_description = categories.stop_code_description
)

select * from final
