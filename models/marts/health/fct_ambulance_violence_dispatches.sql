-- One row per LAS dispatch to a violence-related call in a London borough: the month, and, as far as
-- k-anonymity over every quasi-identifier allows (int_las_dispatches_generalised), the week, time of day,
-- LSOA, call and incident category, and the patient's age band and sex. The records of a borough and month
-- with fewer than k in all are withheld (counted in quality.las_violence_dispatches_exclusions).
{{ config(month_column='incident_month') }}
with

dispatches as (
    select * from {{ ref('int_las_dispatches_generalised') }}
),

final as (
    select
        dispatch_key,
        agency,
        incident_month,
        incident_week,
        time_of_day,
        borough_code,
        lsoa_code,
        call_category,
        age_band,
        sex,
        generalisation_level,
        incident_category_code
    from dispatches
    where not is_withheld
)

select * from final
