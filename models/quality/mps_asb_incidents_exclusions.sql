-- MPS anti-social behaviour call rows kept out of the London marts because they cannot be placed in a London borough,
-- counted per agency, month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_asb_incidents') }}
),

exclusions as (
    {{ excluded_rows('mps_asb_incidents', 'suppressed_rows', 'incident_month') }}
)

select * from exclusions
