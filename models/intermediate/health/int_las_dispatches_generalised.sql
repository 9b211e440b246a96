-- London LAS dispatches with their quasi-identifiers (area, age band, sex, month) generalised record by
-- record until every group of records that share them holds at least var('las_min_group_size') records
-- (k-anonymity): level 0 keeps the LSOA; level 1 only the borough; level 2 also widens the age band;
-- level 3 withholds age and sex, leaving the borough and month, which every record of that borough and
-- month shares. A record moves up a level only when its group at the level below is too small, and the
-- groups at each level are counted among the records still to place, so each released group is whole.
{%- set k = var('las_min_group_size') %}
with

dispatches as (
    select * from {{ ref('las_violence_dispatches') }}
    where location_status = 'london'
),

banded as (
    select
        *,
        case
            when age_band in ('0-9', '10-17') then '0-17'
            when age_band in ('18-24', '25-34') then '18-34'
            when age_band in ('35-44', '45-54') then '35-54'
            when age_band in ('55-64', '65+') then '55+'
            else age_band
        end as wide_age_band
    from dispatches
),

by_lsoa as (
    select
        *,
        case
            when
                lsoa_code is not null
                and count(*) over (partition by incident_month, lsoa_code, age_band, sex) >= {{ k }}
                then 0
        end as placed_level
    from banded
),

by_borough as (
    select
        *,
        case
            when placed_level is not null then placed_level
            when count(*) over (
                partition by incident_month, borough_code, age_band, sex, placed_level is null
            ) >= {{ k }} then 1
        end as level_after_borough
    from by_lsoa
),

by_wide_band as (
    select
        *,
        case
            when level_after_borough is not null then level_after_borough
            when count(*) over (
                partition by incident_month, borough_code, wide_age_band, sex, level_after_borough is null
            ) >= {{ k }} then 2
            else 3
        end as generalisation_level
    from by_borough
),

final as (
    select
        dispatch_key,
        agency,
        incident_month,
        incident_date,
        incident_hour,
        borough_code,
        call_category,
        generalisation_level,
        case when generalisation_level = 0 then lsoa_code end as lsoa_code,
        case
            when generalisation_level <= 1 then age_band
            when generalisation_level = 2 then wide_age_band
            else 'withheld'
        end as age_band,
        case when generalisation_level <= 2 then sex else 'withheld' end as sex,
        -- the records sharing this record's released area, age band, sex and month
        count(*) over (
            partition by
                incident_month,
                borough_code,
                case when generalisation_level = 0 then lsoa_code end,
                case
                    when generalisation_level <= 1 then age_band
                    when generalisation_level = 2 then wide_age_band
                    else 'withheld'
                end,
                case when generalisation_level <= 2 then sex else 'withheld' end
        ) as released_group_size,
        count(*) over (partition by incident_month, borough_code) as borough_month_records
    from by_wide_band
)

select * from final
