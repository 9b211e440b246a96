-- The privacy boundary keeps every row and every crime id: per dataset and load, suppressed has as
-- many rows as staging and a pseudonym for every crime id staging has (none lost to a missing key). A refresh
-- compares the loads it rebuilt (macros/refresh_rows.sql).
with

staged_street_crimes as (
    select * from {{ ref('stg_police_uk__street_crimes') }}
    where {{ refresh_rows_filter(ref('stg_police_uk__street_crimes')) or 'true' }}
),

staged_crime_outcomes as (
    select * from {{ ref('stg_police_uk__crime_outcomes') }}
    where {{ refresh_rows_filter(ref('stg_police_uk__crime_outcomes')) or 'true' }}
),

suppressed_street_crimes as (
    select * from {{ ref('police_uk_street_crimes') }}
    where {{ refresh_rows_filter(ref('police_uk_street_crimes')) or 'true' }}
),

suppressed_crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
    where {{ refresh_rows_filter(ref('police_uk_crime_outcomes')) or 'true' }}
),

staged_counts as (
    select
        'police_uk_street_crimes' as dataset,
        load_id,
        count(*) as row_count,
        count(crime_id) as crime_id_count
    from staged_street_crimes
    group by load_id
    union all
    select
        'police_uk_crime_outcomes' as dataset,
        load_id,
        count(*) as row_count,
        count(crime_id) as crime_id_count
    from staged_crime_outcomes
    group by load_id
),

suppressed_counts as (
    select
        'police_uk_street_crimes' as dataset,
        load_id,
        count(*) as row_count,
        count(crime_pseudo_id) as crime_id_count
    from suppressed_street_crimes
    group by load_id
    union all
    select
        'police_uk_crime_outcomes' as dataset,
        load_id,
        count(*) as row_count,
        count(crime_pseudo_id) as crime_id_count
    from suppressed_crime_outcomes
    group by load_id
),

compared as (
    select
        coalesce(staged_counts.dataset, suppressed_counts.dataset) as dataset,
        coalesce(staged_counts.load_id, suppressed_counts.load_id) as load_id,
        coalesce(staged_counts.row_count, 0) as staged_row_count,
        coalesce(suppressed_counts.row_count, 0) as suppressed_row_count,
        coalesce(staged_counts.crime_id_count, 0) as staged_crime_id_count,
        coalesce(suppressed_counts.crime_id_count, 0) as pseudonymised_crime_id_count
    from staged_counts
    full outer join suppressed_counts
        on
            staged_counts.dataset = suppressed_counts.dataset
            and staged_counts.load_id = suppressed_counts.load_id
)

select * from compared
where
    staged_row_count != suppressed_row_count
    or staged_crime_id_count != pseudonymised_crime_id_count
