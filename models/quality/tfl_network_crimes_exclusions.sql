-- Crime on the TfL network kept out of marts.fct_transport_crimes: outside London or no borough, per month.
with

crimes as (
    select * from {{ ref('tfl_network_crimes') }}
),

exclusions as (
    {{ excluded_rows('tfl_network_crimes', 'crimes', 'incident_month') }}
)

select * from exclusions
