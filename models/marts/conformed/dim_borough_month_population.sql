-- Each London borough's resident population for every month its ONS estimate is current for: the
-- borough-month grain at which the semantic layer divides a monthly count by residents (rates per
-- 1,000), since MetricFlow aggregates numerator and denominator separately and then joins them.
with

population as (
    select * from {{ ref('dim_borough_population') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

months as (
    select distinct month_start
    from calendar
),

final as (
    select
        population.borough_code,
        population.borough_name,
        months.month_start as population_month,
        population.year as estimate_year,
        population.population
    from population
    inner join months
        on months.month_start between population.applies_from_month and population.applies_to_month
)

select * from final
