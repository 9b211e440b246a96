-- The borough core dataset for violence: one row per London borough per month, counting side by side
-- what each agency recorded. Datasets share no incident id, so nothing is linked: each count comes from
-- its own mart. A dataset with no rows anywhere in London in a month has not been received for that
-- month: its count is NULL, not 0. Rates are per 1,000 residents (ONS mid-year estimates).
{{ config(month_column='incident_month') }}
with

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

population as (
    select * from {{ ref('dim_borough_population') }}
),

categories as (
    select * from {{ ref('incident_categories') }}
),

-- each fact filtered to the months a refresh rebuilds: `counted` is read twice, so PostgreSQL materialises it
-- and the month filter on this model's result would not reach the facts
street_crimes as (
    select * from {{ ref('fct_street_crimes') }}
    where {{ refreshed_months('crime_month') }}
),

recorded_crimes as (
    select * from {{ ref('fct_recorded_crimes') }}
    where {{ refreshed_months('incident_month') }}
),

every_recorded_crime as (
    select * from {{ ref('fct_recorded_crimes') }}
),

ambulance_dispatches as (
    -- every London dispatch, those the record-level mart withholds for k-anonymity included
    select * from {{ ref('int_las_dispatches_categorised') }}
    where {{ refreshed_months('incident_month') }}
),

ed_attendances as (
    select * from {{ ref('fct_ed_assault_attendances') }}
    where {{ refreshed_months('incident_month') }}
),

police_violence as (
    select
        street_crimes.borough_code,
        street_crimes.crime_month as incident_month,
        count(*) as event_count
    from street_crimes
    inner join categories
        on street_crimes.incident_category_code = categories.incident_category_code
    where categories.is_violence
    group by 1, 2
),

knife_crime as (
    select
        borough_code,
        incident_month,
        count(*) filter (where is_knife_crime) as event_count
    from recorded_crimes
    group by 1, 2
),

ambulance_violence as (
    select
        borough_code,
        incident_month,
        count(*) as event_count
    from ambulance_dispatches
    group by 1, 2
),

ed_assaults as (
    select
        borough_code,
        incident_month,
        count(*) as event_count
    from ed_attendances
    group by 1, 2
),

counted as (
    select
        'police_violence' as measure,
        *
    from police_violence
    union all
    select
        'knife_crime' as measure,
        *
    from knife_crime
    union all
    select
        'ambulance_violence' as measure,
        *
    from ambulance_violence
    union all
    select
        'ed_assaults' as measure,
        *
    from ed_assaults
),

-- the months each dataset was received for (any row anywhere in London)
received as (
    select distinct
        measure,
        incident_month
    from counted
),

-- the MPS feed does not cover the City of London, which the City of London Police polices: the boroughs with a
-- recorded crime in any month, each looked up in its own partition and the first row enough. Not `where exists`:
-- PostgreSQL made that a hash semi-join over every recorded crime (8.2 million rows at ten years: 2 s from the
-- page cache, 21 s from disk); the lateral limit reads a few blocks per borough (3 ms).
knife_crime_coverage as (
    select boroughs.borough_code
    from boroughs
    cross join lateral (
        select
        from every_recorded_crime
        where every_recorded_crime.borough_code = boroughs.borough_code
        -- which row does not matter: it selects no column
        limit 1  -- noqa: AM09
    ) as any_recorded_crime
),

months as (
    select distinct incident_month
    from received
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

measured as (
    select
        grid.borough_code,
        grid.borough_name,
        grid.iso_3166_2_code,
        grid.incident_month,
        received.measure,
        coalesce(counted.event_count, 0) as event_count
    from grid
    inner join received
        on grid.incident_month = received.incident_month
    left join counted
        on
            grid.borough_code = counted.borough_code
            and grid.incident_month = counted.incident_month
            and received.measure = counted.measure
    where
        received.measure != 'knife_crime'
        or grid.borough_code in (select knife_crime_coverage.borough_code from knife_crime_coverage)
),

pivoted as (
    select
        borough_code,
        borough_name,
        iso_3166_2_code,
        incident_month,
        max(event_count) filter (where measure = 'police_violence') as police_violence_count,
        max(event_count) filter (where measure = 'knife_crime') as knife_crime_count,
        max(event_count) filter (where measure = 'ambulance_violence') as ambulance_violence_dispatch_count,
        max(event_count) filter (where measure = 'ed_assaults') as ed_assault_attendance_count
    from measured
    group by 1, 2, 3, 4
),

final as (
    select
        pivoted.borough_code,
        pivoted.borough_name,
        pivoted.iso_3166_2_code,
        pivoted.incident_month,
        population.population,
        pivoted.police_violence_count,
        pivoted.knife_crime_count,
        pivoted.ambulance_violence_dispatch_count,
        pivoted.ed_assault_attendance_count,
        {{ rate_per_1000('pivoted.police_violence_count', 'population.population') }}
            as police_violence_rate_per_1000,
        {{ rate_per_1000('pivoted.knife_crime_count', 'population.population') }}
            as knife_crime_rate_per_1000,
        {{ rate_per_1000('pivoted.ambulance_violence_dispatch_count', 'population.population') }}
            as ambulance_violence_dispatch_rate_per_1000,
        {{ rate_per_1000('pivoted.ed_assault_attendance_count', 'population.population') }}
            as ed_assault_attendance_rate_per_1000
    from pivoted
    left join population
        on
            pivoted.borough_code = population.borough_code
            and pivoted.incident_month between population.applies_from_month and population.applies_to_month
)

select * from final
