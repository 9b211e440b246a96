-- TfL bus safety rows kept out of marts.fct_bus_safety_incidents: a borough name that is not a London
-- borough ("None London Borough", "Out of London") or none given ("Not specified"), counted per month.
with

incidents as (
    select * from {{ ref('tfl_bus_safety_incidents') }}
),

exclusions as (
    select
        'tfl_bus_safety_incidents' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from incidents
    where location_status != 'london'
    group by agency, incident_month, location_status
)

select * from exclusions
