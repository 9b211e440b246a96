-- One row per MPS anti-social behaviour call placed in a London borough: when (to the hour), where (LSOA),
-- how quickly officers arrived, and what kind of ASB. No CAD reference and no free-text location.
{{ config(month_column='incident_month') }}
with

asb_incidents as (
    select * from {{ ref('mps_asb_incidents') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

categories as (
    select * from {{ ref('mps_asb_incidents_categories') }}
),

london_asb_incidents as (
    select * from asb_incidents
    where location_status = 'london'
),

final as (
    select
        london_asb_incidents.asb_incident_key,
        london_asb_incidents.incident_pseudo_id,
        london_asb_incidents.incident_month,
        london_asb_incidents.call_date,
        london_asb_incidents.call_hour,
        london_asb_incidents.agency,
        london_asb_incidents.borough_code,
        boroughs.borough_name,
        london_asb_incidents.lsoa_code,
        london_asb_incidents.response_time_minutes,
        london_asb_incidents.incident_type as asb_type,
        london_asb_incidents.incident_subtype as asb_subtype,
        london_asb_incidents.response_time_minutes is not null as was_attended,
        -- every call in the extract is ASB, whether or not the seed knows its subtype yet
        coalesce(categories.incident_category_code, 'anti_social_behaviour') as incident_category_code,
        categories.incident_subtype is not null as is_type_mapped
    from london_asb_incidents
    inner join boroughs
        on london_asb_incidents.borough_code = boroughs.borough_code
    left join categories
        on
            lower(london_asb_incidents.incident_type) = lower(categories.incident_type)
            and lower(coalesce(london_asb_incidents.incident_subtype, ''))
            = lower(categories.incident_subtype)
)

select * from final
