-- rate_per_1000 keeps its promise: count per 1,000 population rounded to 2 places, NULL (not 0, not an
-- error) when the population is NULL or 0. Returns the cases that came out otherwise.
with

cases as (
    select
        counted,
        population,
        expected
    from (
        values
        (5, 300000, 0.02),
        (2500, 300000, 8.33),
        (1, 8000, 0.13),
        (0, 250000, 0.00),
        (10, 0, null),
        (10, null, null),
        (null, 250000, null)
    ) as examples (counted, population, expected)
),

computed as (
    select
        counted,
        population,
        expected,
        {{ rate_per_1000('counted', 'population') }} as rate
    from cases
)

select * from computed
where rate is distinct from expected
