-- police.uk outcome rows of the loads that are currently active, typed, trimmed and renamed.
with

source as (
    select * from {{ source('police_uk', 'crime_outcomes') }}
),

active_loads as (
    {{ active_loads('police_uk', 'crime_outcomes') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ nullif_blank('source.crime_id') }} as crime_id,
        to_date(btrim(source.month), 'YYYY-MM') as outcome_month,
        {{ nullif_blank('source.reported_by') }} as reported_by,
        {{ nullif_blank('source.falls_within') }} as falls_within,
        {{ extract_value('source.longitude', 'longitude') }} as longitude,
        {{ extract_value('source.latitude', 'latitude') }} as latitude,
        {{ nullif_blank('source.location') }} as location,
        {{ nullif_blank('source.lsoa_code') }} as lsoa_code,
        {{ nullif_blank('source.lsoa_name') }} as lsoa_name,
        {{ nullif_blank('source.outcome_type') }} as outcome_type,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
