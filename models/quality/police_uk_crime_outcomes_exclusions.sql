-- police.uk crime outcome rows kept out of the London marts, counted per dataset, agency, month and
-- reason, so that every active row is either in a mart or counted here.
with

crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

exclusions as (
    {{ excluded_rows('police_uk_crime_outcomes', 'crime_outcomes', 'outcome_month') }}
)

select * from exclusions
