-- One row per ED site and month, from the first month any site submitted an ISTV file to the latest:
-- whether the site's file came, whether it came late, and how many of its rows loaded and were rejected.
with

submissions as (
    select * from {{ ref('istv_site_submissions') }}
),

sites as (
    select * from {{ ref('hospital_sites') }}
),

month_range as (
    select
        min(period_month) as first_month,
        max(period_month) as last_month
    from submissions
),

months as (
    select generate_series(first_month, last_month, interval '1 month')::date as submission_month
    from month_range
),

per_site_month as (
    select
        site_code,
        period_month,
        count(*) as file_count,
        min(arrival_month) as first_arrival_month,
        bool_or(status = 'loaded') as has_active_load,
        -- the first file to arrive decides lateness; a revision later does not make the month late
        (array_agg(arrived_late order by loaded_at, load_id))[1] as arrived_late,
        sum(case when status = 'loaded' then rows_loaded else 0 end)::bigint as rows_loaded,
        sum(case when status = 'loaded' then rows_rejected else 0 end)::bigint as rows_rejected
    from submissions
    group by site_code, period_month
),

final as (
    select
        sites.site_code,
        sites.site_name,
        sites.trust_code,
        sites.borough_code,
        months.submission_month,
        per_site_month.first_arrival_month,
        sites.site_code || '-' || to_char(months.submission_month, 'YYYY-MM') as submission_key,
        per_site_month.site_code is not null as submitted,
        coalesce(per_site_month.arrived_late, false) as arrived_late,
        coalesce(per_site_month.has_active_load, false) as loaded,
        coalesce(per_site_month.file_count, 0) as file_count,
        coalesce(per_site_month.rows_loaded, 0) as rows_loaded,
        coalesce(per_site_month.rows_rejected, 0) as rows_rejected
    from sites
    cross join months
    left join per_site_month
        on
            sites.site_code = per_site_month.site_code
            and months.submission_month = per_site_month.period_month
)

select * from final
