-- MPS victim rows kept out of the London marts because they cannot be placed in a London borough,
-- counted per agency, month and reason, so that every staged row is either in the mart or counted here.
with

suppressed_rows as (
    select * from {{ ref('mps_crime_victims') }}
),

exclusions as (
    select
        'mps_crime_victims' as dataset,
        agency,
        recorded_month as period_month,
        location_status as reason,
        count(*) as excluded_row_count
    from suppressed_rows
    where location_status != 'london'
    group by agency, recorded_month, location_status
)

select * from exclusions
