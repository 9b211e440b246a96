-- MPS perpetrator (suspect) rows kept out of the London marts because they cannot be placed in a London borough,
-- or withheld because their borough and month holds fewer than k of them (k-anonymity), counted per agency,
-- month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_crime_perpetrators') }}
),

generalised as (
    select * from {{ ref('int_mps_crime_perpetrators_generalised') }}
),

outside_london as (
    select
        'mps_crime_perpetrators' as dataset,
        agency,
        recorded_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from suppressed_rows
    where location_status != 'london'
    group by agency, recorded_month, location_status
),

withheld as (
    select
        'mps_crime_perpetrators' as dataset,
        agency,
        incident_month as period_month,
        'borough_month_below_k' as reason,
        count(*) as excluded_row_count
    from generalised
    where is_withheld
    group by agency, incident_month
),

exclusions as (
    select * from outside_london
    union all
    select * from withheld
)

select * from exclusions
