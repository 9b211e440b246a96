-- London LAS dispatches with their incident category and the coarser values generalisation can release
-- (week, time band, day or night, wide age band). Not released as such: the disclosure-controlled aggregate
-- counts these (every LSOA and category as recorded), the record-level mart their generalisation.
with

dispatches as (
    select * from {{ ref('las_violence_dispatches') }}
    where location_status = 'london'
),

categories as (
    select * from {{ ref('las_violence_dispatches_categories') }}
),

final as (
    select
        dispatches.dispatch_key,
        dispatches.agency,
        dispatches.incident_month,
        dispatches.borough_code,
        dispatches.lsoa_code,
        dispatches.call_category,
        dispatches.age_band,
        dispatches.sex,
        coalesce(categories.incident_category_code, 'violence_unspecified') as incident_category_code,
        date_trunc('week', dispatches.incident_date)::date as incident_week,
        case
            when dispatches.incident_hour < 6 then '00-05'
            when dispatches.incident_hour < 12 then '06-11'
            when dispatches.incident_hour < 18 then '12-17'
            else '18-23'
        end as time_band,
        case when dispatches.incident_hour between 6 and 17 then 'day 06-17' else 'night 18-05' end
            as day_or_night,
        case
            when dispatches.age_band in ('0-9', '10-17') then '0-17'
            when dispatches.age_band in ('18-24', '25-34') then '18-34'
            when dispatches.age_band in ('35-44', '45-54') then '35-54'
            when dispatches.age_band in ('55-64', '65+') then '55+'
            else dispatches.age_band
        end as wide_age_band
    from dispatches
    left join categories
        on lower(dispatches.call_category) = lower(categories.call_category)
)

select * from final
