-- The privacy boundary for police.uk outcomes: crime ids become keyed pseudonyms (the same ones as in
-- police_uk_street_crimes), point coordinates and street descriptions are dropped, the LSOA is the finest
-- place kept.
{{ config(month_column='outcome_month', change_key='crime_pseudo_id') }}
with

crime_outcomes as (
    select * from {{ ref('stg_police_uk__crime_outcomes') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        crime_outcomes.*,
        boroughs.borough_code
    from crime_outcomes
    left join boroughs
        on lower({{ lsoa_borough_name('crime_outcomes.lsoa_name') }}) = lower(boroughs.borough_name)
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as outcome_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('crime_id') }} as crime_pseudo_id,
        outcome_month,
        reported_by as force_name,
        falls_within as falls_within_force_name,
        lsoa_code,
        lsoa_name,
        borough_code,
        {{ police_uk_location_status('lsoa_code', 'location', 'borough_code') }} as location_status,
        outcome_type
    from located
)

select * from suppressed
