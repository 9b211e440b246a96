-- LFB incident rows kept out of marts.fct_fire_incidents (incidents the Brigade attended outside London,
-- or without a borough), counted per dataset, agency, month and reason.
with

incidents as (
    select * from {{ ref('lfb_incidents') }}
),

exclusions as (
    select
        'lfb_incidents' as dataset,
        agency,
        incident_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from incidents
    where location_status != 'london'
    group by agency, incident_month, location_status
)

select * from exclusions
