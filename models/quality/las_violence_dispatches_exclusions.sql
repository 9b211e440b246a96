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
    {{ excluded_rows('las_violence_dispatches', 'dispatches', 'incident_month') }}
),

withheld as (
    {{ withheld_rows('las_violence_dispatches', 'generalised') }}
),

exclusions as (
    select * from outside_london
    union all
    select * from withheld
)

select * from exclusions
