-- MPS anti-social behaviour calls of the loads that are currently active, typed, trimmed and renamed.
with

source as (
    select * from {{ source('mps', 'asb_incidents') }}
),

active_loads as (
    {{ active_loads('mps', 'asb_incidents') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ nullif_blank('source.incident_reference') }} as incident_reference,
        {{ extract_value('source.call_date_time', 'timestamp') }} as called_at,
        {{ nullif_blank('source.lsoa_code') }} as lsoa_code,
        {{ nullif_blank('source.location_description') }} as location_description,
        {{ nullif_blank('source.borough') }} as borough,
        {{ extract_value('source.response_time_minutes', 'integer') }} as response_time_minutes,
        {{ nullif_blank('source.incident_type') }} as incident_type,
        {{ nullif_blank('source.incident_subtype') }} as incident_subtype,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
