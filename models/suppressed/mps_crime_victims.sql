-- The privacy boundary for MPS victims: crime ids become the same keyed pseudonyms as in street_crimes,
-- people are described only by broad ethnic group, sex and age band, and each row is placed in a London
-- borough or marked as not placeable.
with

people as (
    select * from {{ ref('stg_mps__crime_victims') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        people.*,
        boroughs.borough_code
    from people
    left join boroughs
        on {{ mps_borough_key('people.borough') }} = {{ mps_borough_key('boroughs.borough_name') }}
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as crime_victim_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('crime_id') }} as crime_pseudo_id,
        victim_number,
        recorded_month,
        borough_code,
        {{ mps_borough_status('borough', 'borough_code') }} as location_status,
        {{ person_ethnicity_group('ethnicity') }} as ethnicity_group,
        {{ person_sex('sex') }} as sex,
        {{ person_age_band('age_range') }} as age_band
    from located
)

select * from suppressed
