-- MPS recorded crime rows kept out of the London marts because they cannot be placed in a London borough,
-- counted per agency, month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_recorded_crime_outcomes') }}
),

exclusions as (
    {{ excluded_rows('mps_recorded_crime_outcomes', 'suppressed_rows', 'recorded_month') }}
)

select * from exclusions
