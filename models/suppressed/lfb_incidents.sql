-- The privacy boundary for LFB incident records: incident numbers become keyed pseudonyms; postcodes,
-- UPRN, USRN, address qualifiers, eastings/northings and latitude/longitude are dropped; the ward is the
-- finest place kept and the hour the finest time of day.
{{ config(month_column='incident_month') }}
with

incidents as (
    select * from {{ ref('stg_lfb__incidents') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

suppressed as (
    select
        {{ row_key('incidents.load_id', 'incidents.source_row_number') }} as fire_incident_key,
        incidents.load_id,
        incidents.source_row_number,
        incidents.agency,
        {{ pseudonymise('incidents.incident_number') }} as incident_pseudo_id,
        date_trunc('month', incidents.call_date)::date as incident_month,
        incidents.call_date,
        extract(hour from incidents.call_time)::integer as call_hour,
        incidents.incident_group,
        incidents.stop_code_description,
        incidents.special_service_type,
        incidents.fire_motive,
        incidents.property_category,
        incidents.property_type,
        boroughs.borough_code,
        case
            when boroughs.borough_code is not null then 'london'
            when incidents.borough_code is null then 'no_borough'
            else 'outside_london'
        end as location_status,
        incidents.ward_code,
        incidents.incident_station_ground,
        incidents.first_pump_station,
        incidents.first_pump_attendance_seconds,
        incidents.second_pump_attendance_seconds,
        incidents.num_stations_with_pumps_attending,
        incidents.num_pumps_attending,
        incidents.pump_count,
        incidents.pump_hours,
        incidents.notional_cost_gbp,
        incidents.num_calls
    from incidents
    left join boroughs
        on incidents.borough_code = boroughs.borough_code
)

select * from suppressed
