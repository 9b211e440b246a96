-- LAS dispatches kept out of the London mart, counted per agency, month and reason, so that every
-- active row is either in marts.fct_ambulance_violence_dispatches or counted here: outside London or without
-- a borough, or withheld because their borough and month holds fewer than k records (k-anonymity).
with

dispatches as (
    select * from {{ ref('las_violence_dispatches') }}
),

generalised as (
    select * from {{ ref('int_las_dispatches_generalised') }}
),

outside_london as (
    select
        'las_violence_dispatches' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from dispatches
    where location_status != 'london'
    group by agency, incident_month, location_status
),

withheld as (
    select
        'las_violence_dispatches' as dataset,
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
