-- LFB incident rows of the loads that are current, typed, trimmed and renamed. A month comes from its
-- monthly extract when one is active, otherwise from the active cumulative publication (never both).
with

source as (
    select * from {{ source('lfb', 'incidents') }}
),

active_loads as (
    {{ active_loads('lfb', 'incidents') }}
),

-- not MATERIALIZED: a load filter on the view must reach raw's BRIN index on _load_id
renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        active_loads.coverage as load_coverage,
        {{ nullif_blank('source.incident_number') }} as incident_number,
        {{ extract_value('source.date_of_call', 'excel_date') }} as call_date,
        {{ extract_value('source.time_of_call', 'time') }} as call_time,
        {{ nullif_blank('source.incident_group') }} as incident_group,
        {{ nullif_blank('source.stop_code_description') }} as stop_code_description,
        {{ nullif_blank('source.special_service_type') }} as special_service_type,
        {{ nullif_blank('source.property_category') }} as property_category,
        {{ nullif_blank('source.property_type') }} as property_type,
        {{ nullif_blank('source.address_qualifier') }} as address_qualifier,
        {{ nullif_blank('source.postcode_full') }} as postcode_full,
        {{ nullif_blank('source.postcode_district') }} as postcode_district,
        {{ nullif_blank('source.uprn') }} as uprn,
        {{ nullif_blank('source.usrn') }} as usrn,
        upper({{ nullif_blank('source.borough_code') }}) as borough_code,
        {{ nullif_blank('source.borough_name') }} as borough_name,
        upper({{ nullif_blank('source.ward_code') }}) as ward_code,
        coalesce(
            {{ nullif_blank('source.ward_name_new') }}, {{ nullif_blank('source.ward_name') }}
        ) as ward_name,
        {{ nullif_blank('source.easting_m') }} as easting_m,
        {{ nullif_blank('source.northing_m') }} as northing_m,
        {{ nullif_blank('source.latitude') }} as latitude,
        {{ nullif_blank('source.longitude') }} as longitude,
        {{ nullif_blank('source.frs') }} as fire_rescue_service,
        {{ nullif_blank('source.incident_station_ground') }} as incident_station_ground,
        {{ extract_value('source.first_pump_attendance_seconds', 'integer') }} as first_pump_attendance_seconds,
        {{ nullif_blank('source.first_pump_station') }} as first_pump_station,
        {{ extract_value('source.second_pump_attendance_seconds', 'integer') }} as second_pump_attendance_seconds,
        {{ nullif_blank('source.second_pump_station') }} as second_pump_station,
        {{ extract_value('source.num_stations_with_pumps_attending', 'integer') }}
            as num_stations_with_pumps_attending,
        {{ extract_value('source.num_pumps_attending', 'integer') }} as num_pumps_attending,
        {{ extract_value('source.pump_count', 'integer') }} as pump_count,
        coalesce(
            {{ extract_value('source.pump_hours_round_up', 'integer') }},
            ceil({{ extract_value('source.pump_minutes_rounded', 'integer') }} / 60.0)::integer
        ) as pump_hours,
        {{ extract_value('source.notional_cost_gbp', 'integer') }} as notional_cost_gbp,
        {{ extract_value('source.num_calls', 'integer') }} as num_calls,
        case lower({{ nullif_blank('source.fire_motive') }})
            when 'deliberate' then 'deliberate'
            when 'accidental' then 'accidental'
            else 'not_recorded'
        end as fire_motive,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
),

current_rows as (
    {{ monthly_beats_cumulative('renamed', 'call_date') }}
)

select * from current_rows
