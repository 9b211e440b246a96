-- Rows of the police.uk datasets kept out of the London marts, counted per dataset, agency, month
-- and reason, so that every active row is either in a mart or counted here.
with

street_crimes as (
    select * from {{ ref('street_crimes') }}
),

crime_outcomes as (
    select * from {{ ref('crime_outcomes') }}
),

street_crime_exclusions as (
    {{ excluded_rows('police_uk_street_crimes', 'street_crimes', 'crime_month') }}
),

crime_outcome_exclusions as (
    {{ excluded_rows('police_uk_crime_outcomes', 'crime_outcomes', 'outcome_month') }}
),

unioned as (
    select * from street_crime_exclusions
    union all
    select * from crime_outcome_exclusions
)

select * from unioned
