-- Row conservation into the marts: for every dataset, agency and month, the staged rows equal the
-- rows in the London mart plus the rows counted in quality.street_crime_exclusions.
with

staged_street_crimes as (
    select * from {{ ref('stg_police_uk__street_crimes') }}
),

staged_crime_outcomes as (
    select * from {{ ref('stg_police_uk__crime_outcomes') }}
),

fct_street_crimes as (
    select * from {{ ref('fct_street_crimes') }}
),

fct_crime_outcomes as (
    select * from {{ ref('fct_crime_outcomes') }}
),

exclusions as (
    select * from {{ ref('street_crime_exclusions') }}
),

staged_counts as (
    select
        'police_uk_street_crimes' as dataset,
        agency,
        crime_month as period_month,
        count(*) as staged_row_count
    from staged_street_crimes
    group by agency, crime_month
    union all
    select
        'police_uk_crime_outcomes' as dataset,
        agency,
        outcome_month as period_month,
        count(*) as staged_row_count
    from staged_crime_outcomes
    group by agency, outcome_month
),

mart_counts as (
    select
        'police_uk_street_crimes' as dataset,
        agency,
        crime_month as period_month,
        count(*) as mart_row_count
    from fct_street_crimes
    group by agency, crime_month
    union all
    select
        'police_uk_crime_outcomes' as dataset,
        agency,
        outcome_month as period_month,
        count(*) as mart_row_count
    from fct_crime_outcomes
    group by agency, outcome_month
),

excluded_counts as (
    select
        dataset,
        agency,
        period_month,
        sum(excluded_row_count) as excluded_row_count
    from exclusions
    group by dataset, agency, period_month
),

periods as (
    select
        dataset,
        agency,
        period_month
    from staged_counts
    union
    select
        dataset,
        agency,
        period_month
    from mart_counts
    union
    select
        dataset,
        agency,
        period_month
    from excluded_counts
),

compared as (
    select
        periods.dataset,
        periods.agency,
        periods.period_month,
        coalesce(staged_counts.staged_row_count, 0) as staged_row_count,
        coalesce(mart_counts.mart_row_count, 0) as mart_row_count,
        coalesce(excluded_counts.excluded_row_count, 0) as excluded_row_count
    from periods
    left join staged_counts
        on
            periods.dataset = staged_counts.dataset
            and periods.agency = staged_counts.agency
            and periods.period_month = staged_counts.period_month
    left join mart_counts
        on
            periods.dataset = mart_counts.dataset
            and periods.agency = mart_counts.agency
            and periods.period_month = mart_counts.period_month
    left join excluded_counts
        on
            periods.dataset = excluded_counts.dataset
            and periods.agency = excluded_counts.agency
            and periods.period_month = excluded_counts.period_month
)

select * from compared
where staged_row_count != mart_row_count + excluded_row_count
