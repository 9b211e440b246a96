-- TfL bus safety rows kept out of marts.fct_bus_safety_incidents: a borough name that is not a London
-- borough ("None London Borough", "Out of London") or none given ("Not specified"), counted per month.
with

incidents as (
    select * from {{ ref('tfl_bus_safety_incidents') }}
),

exclusions as (
    {{ excluded_rows('tfl_bus_safety_incidents', 'incidents', 'incident_month') }}
)

select * from exclusions
