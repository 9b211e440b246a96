-- LAS violence-related dispatches of the loads that are currently active, typed, trimmed and renamed.
with

source as (
    select * from {{ source('las', 'violence_dispatches') }}
),

active_loads as (
    {{ active_loads('las', 'violence_dispatches') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ nullif_blank('source.incident_reference') }} as incident_reference,
        {{ extract_value('source.incident_date', 'date') }} as incident_date,
        {{ extract_value('source.incident_time', 'time') }} as incident_time,
        {{ nullif_blank('source.call_category') }} as call_category,
        {{ extract_value('source.patient_age', 'integer') }} as patient_age,
        case upper({{ nullif_blank('source.patient_sex') }})
            when 'M' then 'Male'
            when 'MALE' then 'Male'
            when 'F' then 'Female'
            when 'FEMALE' then 'Female'
            else 'Unknown'
        end as patient_sex,
        {{ extract_value('source.latitude', 'latitude') }} as latitude,
        {{ extract_value('source.longitude', 'longitude') }} as longitude,
        upper({{ nullif_blank('source.lsoa_code') }}) as lsoa_code,
        upper({{ nullif_blank('source.borough_code') }}) as borough_code,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
