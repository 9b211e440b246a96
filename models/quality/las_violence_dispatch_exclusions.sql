-- LAS dispatches kept out of the London mart, counted per agency, month and reason, so that every
-- active row is either in marts.fct_ambulance_violence_dispatches or counted here.
with

dispatches as (
    select * from {{ ref('las_violence_dispatches') }}
),

exclusions as (
    select
        'las_violence_dispatches' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from dispatches
    where location_status != 'london'
    group by agency, incident_month, location_status
)

select * from exclusions
