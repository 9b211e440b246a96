-- MPS victim rows kept out of the London marts because they cannot be placed in a London borough,
-- or withheld because their borough and month holds fewer than k of them (k-anonymity), counted per agency,
-- month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_crime_victims') }}
),

generalised as (
    select * from {{ ref('int_mps_crime_victims_generalised') }}
),

outside_london as (
    {{ excluded_rows('mps_crime_victims', 'suppressed_rows', 'recorded_month') }}
),

withheld as (
    {{ withheld_rows('mps_crime_victims', 'generalised') }}
),

exclusions as (
    select * from outside_london
    union all
    select * from withheld
)

select * from exclusions
