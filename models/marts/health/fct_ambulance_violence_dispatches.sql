-- One row per LAS dispatch to a violence-related call in a London borough: when (to the hour), where (the
-- LSOA where CAD recorded one, else only the borough), what kind of call, and the patient's age band and sex,
-- each generalised as far as k-anonymity needs (int_las_dispatches_generalised).
with

dispatches as (
    select * from {{ ref('int_las_dispatches_generalised') }}
),

categories as (
    select * from {{ ref('las_violence_dispatches_categories') }}
),

final as (
    select
        dispatches.dispatch_key,
        dispatches.agency,
        dispatches.incident_month,
        dispatches.incident_date,
        dispatches.incident_hour,
        dispatches.borough_code,
        dispatches.lsoa_code,
        dispatches.call_category,
        dispatches.age_band,
        dispatches.sex,
        dispatches.generalisation_level,
        coalesce(categories.incident_category_code, 'violence_unspecified') as incident_category_code
    from dispatches
    left join categories
        on lower(dispatches.call_category) = lower(categories.call_category)
)

select * from final
