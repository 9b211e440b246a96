-- MPS perpetrator (suspect) rows of the loads that are currently active, typed, trimmed and renamed.
with

source as (
    select * from {{ source('mps', 'crime_perpetrators') }}
),

active_loads as (
    {{ active_loads('mps', 'crime_perpetrators') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ nullif_blank('source.crime_id') }} as crime_id,
        {{ extract_value('source.perpetrator_number', 'integer') }} as perpetrator_number,
        to_date(btrim(source.month_recorded), 'YYYY-MM') as recorded_month,
        {{ nullif_blank('source.borough') }} as borough,
        {{ nullif_blank('source.ethnicity') }} as ethnicity,
        {{ nullif_blank('source.sex') }} as sex,
        {{ nullif_blank('source.age_range') }} as age_range,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
