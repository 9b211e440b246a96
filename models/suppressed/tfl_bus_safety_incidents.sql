-- The privacy boundary for TfL bus safety: the data holds no identifier, address or point; ages are
-- already broad groups (Child, Youth, Adult, Elderly). Each row is placed in a borough by its name.
{{ config(month_column='incident_month') }}
with

incidents as (
    select
        *,
        {{ normalised_place_name('borough_name') }} as normalised_borough_name
    from {{ ref('stg_tfl__bus_safety_incidents') }}
),

boroughs as (
    select
        borough_code,
        {{ normalised_place_name('borough_name') }} as normalised_borough_name
    from {{ ref('london_boroughs') }}
),

suppressed as (
    select
        {{ row_key('incidents.load_id', 'incidents.source_row_number') }} as bus_safety_incident_key,
        incidents.load_id,
        incidents.source_row_number,
        incidents.agency,
        date_trunc('month', incidents.incident_date)::date as incident_month,
        incidents.route,
        incidents.operator,
        incidents.operator_group,
        incidents.bus_garage,
        boroughs.borough_code,
        case
            when boroughs.borough_code is not null then 'london'
            when
                incidents.borough_name is null
                or incidents.normalised_borough_name in ('not specified', 'unknown')
                then 'not_specified'
            else 'not_a_london_borough'
        end as location_status,
        incidents.injury_result,
        incidents.incident_event_type,
        incidents.victim_category,
        incidents.victim_sex,
        incidents.victim_age_group
    from incidents
    left join boroughs
        on incidents.normalised_borough_name = boroughs.normalised_borough_name
)

select * from suppressed
