-- MPS recorded crime rows (with their outcome) of the loads that are currently active, typed, trimmed and renamed.
with

source as (
    select * from {{ source('mps', 'recorded_crime_outcomes') }}
),

active_loads as (
    {{ active_loads('mps', 'recorded_crime_outcomes') }}
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        {{ nullif_blank('source.crime_id') }} as crime_id,
        to_date(btrim(source.month_recorded), 'YYYY-MM') as recorded_month,
        {{ nullif_blank('source.borough') }} as borough,
        {{ nullif_blank('source.offence_group') }} as offence_group,
        {{ nullif_blank('source.offence_subgroup') }} as offence_subgroup,
        case
            when {{ nullif_blank('source.knife_flag') }} is null then false
            when upper({{ nullif_blank('source.knife_flag') }}) in ('Y', 'YES', 'TRUE', '1') then true
            when upper({{ nullif_blank('source.knife_flag') }}) in ('N', 'NO', 'FALSE', '0') then false
        end as knife_flag,
        {{ nullif_blank('source.outcome') }} as outcome,
        {{ extract_value('source.outcome_date', 'date') }} as outcome_date,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
)

select * from renamed
