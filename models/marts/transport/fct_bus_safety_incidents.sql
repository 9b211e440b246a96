-- One row per person injured in an incident involving a London bus in a London borough, with route,
-- operator, injury, event type mapped to the incident taxonomy, and the victim's category, sex and age group.
{{ config(month_column='incident_month') }}
with

incidents as (
    select * from {{ ref('tfl_bus_safety_incidents') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

categories as (
    select * from {{ ref('tfl_bus_safety_categories') }}
),

final as (
    select
        incidents.bus_safety_incident_key,
        incidents.agency,
        incidents.incident_month,
        incidents.borough_code,
        boroughs.borough_name,
        incidents.route,
        incidents.operator,
        incidents.operator_group,
        incidents.bus_garage,
        incidents.injury_result,
        incidents.incident_event_type,
        incidents.victim_category,
        incidents.victim_sex,
        incidents.victim_age_group,
        incidents.injury_result = 'Fatal' as is_fatal,
        coalesce(categories.incident_category_code, 'other') as incident_category_code
    from incidents
    inner join boroughs
        on incidents.borough_code = boroughs.borough_code
    left join categories
        on lower(incidents.incident_event_type) = lower(categories.incident_event_type)
    where incidents.location_status = 'london'
)

select * from final
