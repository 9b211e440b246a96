-- ISTV A&E assault attendances of the loads that are currently active, typed, trimmed and renamed. The
-- site is the file's (the agency slug in its name); the site code column repeated on the rows is kept
-- beside it so that a file carrying another site's rows can be counted out of the marts.
with

source as (
    select * from {{ source('istv', 'assault_attendances') }}
),

active_loads as (
    {{ active_loads('istv', 'assault_attendances') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        upper(active_loads.agency) as site_code,
        active_loads.period as period_month,
        upper({{ nullif_blank('source.site_code') }}) as row_site_code,
        {{ extract_value('source.period_start_date', 'date') }} as period_start_date,
        {{ extract_value('source.period_end_date', 'date') }} as period_end_date,
        {{ extract_value('source.arrival_date', 'date') }} as arrival_date,
        {{ extract_value('source.arrival_time', 'time') }} as arrival_time,
        {{ extract_value('source.assault_date', 'date') }} as assault_date,
        {{ extract_value('source.assault_time', 'time') }} as assault_time,
        -- codes written without their leading zero ("1") are the two-digit code ("01")
        lpad({{ nullif_blank('source.assault_method') }}, 2, '0') as assault_method_code,
        {{ nullif_blank('source.assault_method_other') }} as assault_method_other,
        lpad({{ nullif_blank('source.location_type') }}, 2, '0') as location_type_code,
        {{ nullif_blank('source.location_description') }} as location_description,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
