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
    select
        'police_uk_street_crimes' as dataset,
        agency,
        crime_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from street_crimes
    where location_status != 'london'
    group by agency, crime_month, location_status
),

crime_outcome_exclusions as (
    select
        'police_uk_crime_outcomes' as dataset,
        agency,
        outcome_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from crime_outcomes
    where location_status != 'london'
    group by agency, outcome_month, location_status
),

unioned as (
    select * from street_crime_exclusions
    union all
    select * from crime_outcome_exclusions
)

select * from unioned
