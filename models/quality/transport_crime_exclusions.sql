-- Crime on the TfL network kept out of marts.fct_transport_crimes: outside London or no borough, per month.
with

crimes as (
    select * from {{ ref('tfl_network_crimes') }}
),

exclusions as (
    select
        'tfl_network_crimes' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from crimes
    where location_status != 'london'
    group by agency, incident_month, location_status
)

select * from exclusions
