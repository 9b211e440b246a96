-- One row per police.uk outcome given in a month to a crime located in a London LSOA.
{{ config(month_column='outcome_month') }}
with

crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

london_crime_outcomes as (
    select * from crime_outcomes
    where location_status = 'london'
),

final as (
    select
        london_crime_outcomes.outcome_key,
        london_crime_outcomes.crime_pseudo_id,
        london_crime_outcomes.outcome_month,
        london_crime_outcomes.force_name,
        london_crime_outcomes.agency,
        london_crime_outcomes.borough_code,
        boroughs.borough_name,
        london_crime_outcomes.lsoa_code,
        london_crime_outcomes.outcome_type
    from london_crime_outcomes
    inner join boroughs
        on london_crime_outcomes.borough_code = boroughs.borough_code
)

select * from final
