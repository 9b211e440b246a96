-- ONS mid-year population estimates per London borough and year, with the months each estimate is
-- the current one for: from January of its year until the month before the next estimate's year
-- (the latest estimate runs to the end of dim_date), so a monthly fact finds its population with
-- `incident_month between applies_from_month and applies_to_month`.
with

population as (
    select * from {{ ref('borough_population') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

calendar_end as (
    select max(month_start) as last_month
    from calendar
),

estimates as (
    select
        population.borough_code,
        boroughs.borough_name,
        population.year,
        population.population,
        lead(population.year) over (
            partition by population.borough_code
            order by population.year
        ) as next_estimate_year
    from population
    inner join boroughs
        on population.borough_code = boroughs.borough_code
),

final as (
    select
        estimates.borough_code,
        estimates.borough_name,
        estimates.year,
        estimates.population,
        make_date(estimates.year, 1, 1) as applies_from_month,
        coalesce(
            (make_date(estimates.next_estimate_year, 1, 1) - interval '1 month')::date,
            calendar_end.last_month
        ) as applies_to_month
    from estimates
    cross join calendar_end
)

select * from final
