-- LFB incident rows kept out of marts.fct_fire_incidents (incidents the Brigade attended outside London,
-- or without a borough), counted per dataset, agency, month and reason.
with

incidents as (
    select * from {{ ref('lfb_incidents') }}
),

exclusions as (
    {{ excluded_rows('lfb_incidents', 'incidents', 'incident_month') }}
)

select * from exclusions
