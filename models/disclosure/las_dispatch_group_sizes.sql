-- The k-anonymity of the LAS record-level mart, per month: the smallest group of records a reader cannot
-- tell apart by area, age band, sex and month (with age and sex withheld, every record of the borough and
-- month), and how many records each generalisation level holds. `safestats sdc check` holds a month whose
-- smallest group is below var('las_min_group_size').
with

generalised as (
    select * from {{ ref('int_las_dispatches_generalised') }}
),

final as (
    select
        incident_month,
        {{ var('las_min_group_size') }} as min_group_size,
        min(
            case when generalisation_level = 3 then borough_month_records else released_group_size end
        ) as smallest_group_size,
        count(*) as dispatch_records,
        count(*) filter (where generalisation_level = 0) as lsoa_level_records,
        count(*) filter (where generalisation_level = 1) as borough_level_records,
        count(*) filter (where generalisation_level = 2) as wide_age_band_records,
        count(*) filter (where generalisation_level = 3) as age_and_sex_withheld_records
    from generalised
    group by 1
)

select * from final
