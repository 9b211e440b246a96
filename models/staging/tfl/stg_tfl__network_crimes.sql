-- Crime on the TfL network: rows of the active monthly loads, typed, trimmed and renamed.
with

source as (
    select * from {{ source('tfl', 'network_crimes') }}
),

active_loads as (
    {{ active_loads('tfl', 'network_crimes') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ extract_value('source.offence_date', 'excel_date') }} as offence_date,
        {{ extract_value('source.offence_time', 'time') }} as offence_time,
        {{ nullif_blank('source.mode') }} as mode,  -- noqa: RF04
        {{ nullif_blank('source.line') }} as line_name,
        {{ nullif_blank('source.route_or_station') }} as route_or_station,
        upper({{ nullif_blank('source.borough_code') }}) as borough_code,
        {{ nullif_blank('source.offence_category') }} as offence_category,
        {{ nullif_blank('source.recorded_by') }} as recorded_by,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
