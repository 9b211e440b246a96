-- One row per crime recorded on the TfL network in a London borough, by mode and route or station, so
-- that hubs, routes and stops with disproportionate offending can be found.
{{ config(month_column='incident_month') }}
with

crimes as (
    select * from {{ ref('tfl_network_crimes') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

categories as (
    select * from {{ ref('tfl_network_crime_categories') }}
),

final as (
    select
        crimes.transport_crime_key,
        crimes.agency,
        crimes.incident_month,
        crimes.offence_date,
        crimes.offence_hour,
        crimes.borough_code,
        boroughs.borough_name,
        crimes.mode,
        crimes.line_name,
        crimes.route_or_station,
        crimes.offence_category,
        crimes.recorded_by,
        coalesce(categories.incident_category_code, 'other_crime') as incident_category_code
    from crimes
    inner join boroughs
        on crimes.borough_code = boroughs.borough_code
    left join categories
        on lower(crimes.offence_category) = lower(categories.offence_category)
    where crimes.location_status = 'london'
)

select * from final
