-- MPS anti-social behaviour call rows kept out of the London marts because they cannot be placed in a London borough,
-- counted per agency, month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_asb_incidents') }}
),

exclusions as (
    select
        'mps_asb_incidents' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from suppressed_rows
    where location_status != 'london'
    group by agency, incident_month, location_status
)

select * from exclusions
