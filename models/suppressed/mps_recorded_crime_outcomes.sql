-- The privacy boundary for MPS recorded crimes and their outcomes: crime ids become the same keyed
-- pseudonyms as in police_uk_street_crimes, and each crime is placed in a London borough or marked as not placeable.
{{ config(month_column='recorded_month', change_key='crime_pseudo_id') }}
with

recorded_crimes as (
    select * from {{ ref('stg_mps__recorded_crime_outcomes') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        recorded_crimes.*,
        boroughs.borough_code
    from recorded_crimes
    left join boroughs
        on {{ mps_borough_key('recorded_crimes.borough') }} = {{ mps_borough_key('boroughs.borough_name') }}
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as recorded_crime_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('crime_id') }} as crime_pseudo_id,
        recorded_month,
        borough_code,
        {{ mps_borough_status('borough', 'borough_code') }} as location_status,
        offence_group,
        offence_subgroup,
        coalesce(knife_flag, false) as has_knife_flag,
        outcome,
        outcome_date
    from located
)

select * from suppressed
