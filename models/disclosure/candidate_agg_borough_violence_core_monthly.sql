{{ config(alias='agg_borough_violence_core_monthly') }}

-- The borough core dataset for violence as released: every count is read off the released cells of its
-- dataset's own aggregate (police violence: the sum of the violence categories' released cells; knife crime:
-- the knife or sharp instrument cell; ambulance and A&E: the borough's all-categories total), so nothing
-- here can be differenced against those aggregates. Rates come from the released counts and are NULL
-- where the count is suppressed.
with

street_crimes as (
    select * from {{ ref('candidate_agg_street_crimes_monthly') }}
    where {{ refreshed_months('incident_month') }}
),

recorded_crimes as (
    select * from {{ ref('candidate_agg_recorded_crimes_monthly') }}
    where {{ refreshed_months('incident_month') }}
),

ambulance_dispatches as (
    select * from {{ ref('candidate_agg_ambulance_violence_dispatches_monthly') }}
    where {{ refreshed_months('incident_month') }}
),

ed_attendances as (
    select * from {{ ref('candidate_agg_ed_assault_attendances_monthly') }}
    where {{ refreshed_months('incident_month') }}
),

categories as (
    select * from {{ ref('incident_categories') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

population as (
    select * from {{ ref('dim_borough_population') }}
),

police_violence as (
    select
        street_crimes.incident_month,
        street_crimes.borough_code,
        false as is_suppressed,
        sum(coalesce(street_crimes.street_crime_count, 0))::bigint as released_count
    from street_crimes
    inner join categories
        on street_crimes.category_code = categories.incident_category_code
    where
        street_crimes.geography_level = 'borough'
        and street_crimes.category_level = 'category'
        and categories.is_violence
    group by 1, 2
),

knife_crime as (
    select
        incident_month,
        borough_code,
        recorded_crime_count as released_count,
        recorded_crime_count_suppressed as is_suppressed
    from recorded_crimes
    where geography_level = 'borough' and category_code = 'knife_or_sharp_instrument'
),

ambulance_violence as (
    select
        incident_month,
        borough_code,
        ambulance_violence_dispatch_count as released_count,
        false as is_suppressed
    from ambulance_dispatches
    where geography_level = 'borough' and category_level = 'all'
),

ed_assaults as (
    select
        incident_month,
        borough_code,
        ed_assault_attendance_count as released_count,
        false as is_suppressed
    from ed_attendances
    where geography_level = 'borough' and category_level = 'all'
),

months as (
    select incident_month from police_violence
    union
    select incident_month from knife_crime
    union
    select incident_month from ambulance_violence
    union
    select incident_month from ed_assaults
),

grid as (
    select
        boroughs.borough_code,
        boroughs.borough_name,
        boroughs.iso_3166_2_code,
        months.incident_month
    from boroughs
    cross join months
),

final as (
    select
        grid.borough_code,
        grid.borough_name,
        grid.iso_3166_2_code,
        grid.incident_month,
        population.population,
        police_violence.released_count as police_violence_count,
        coalesce(police_violence.is_suppressed, false) as police_violence_count_suppressed,
        knife_crime.released_count as knife_crime_count,
        coalesce(knife_crime.is_suppressed, false) as knife_crime_count_suppressed,
        ambulance_violence.released_count as ambulance_violence_dispatch_count,
        coalesce(ambulance_violence.is_suppressed, false) as ambulance_violence_dispatch_count_suppressed,
        ed_assaults.released_count as ed_assault_attendance_count,
        coalesce(ed_assaults.is_suppressed, false) as ed_assault_attendance_count_suppressed,
        {{ rate_per_1000('police_violence.released_count', 'population.population') }}
            as police_violence_rate_per_1000,
        {{ rate_per_1000('knife_crime.released_count', 'population.population') }}
            as knife_crime_rate_per_1000,
        {{ rate_per_1000('ambulance_violence.released_count', 'population.population') }}
            as ambulance_violence_dispatch_rate_per_1000,
        {{ rate_per_1000('ed_assaults.released_count', 'population.population') }}
            as ed_assault_attendance_rate_per_1000
    from grid
    left join population
        on
            grid.borough_code = population.borough_code
            and grid.incident_month between population.applies_from_month and population.applies_to_month
    left join police_violence
        on grid.borough_code = police_violence.borough_code and grid.incident_month = police_violence.incident_month
    left join knife_crime
        on grid.borough_code = knife_crime.borough_code and grid.incident_month = knife_crime.incident_month
    left join ambulance_violence
        on
            grid.borough_code = ambulance_violence.borough_code
            and grid.incident_month = ambulance_violence.incident_month
    left join ed_assaults
        on grid.borough_code = ed_assaults.borough_code and grid.incident_month = ed_assaults.incident_month
)

select * from final
