-- ISTV attendances kept out of marts.fct_ed_assault_attendances, counted per site, month and reason:
-- rows whose own site code is not the site that sent the file (another site's rows in the file).
with

attendances as (
    select * from {{ ref('istv_assault_attendances') }}
),

exclusions as (
    select
        'istv_assault_attendances' as dataset,
        agency,
        arrival_month as period_month,
        site_status as reason,
        count(*) as excluded_row_count
    from attendances
    where site_status != 'ok'
    group by agency, arrival_month, site_status
)

select * from exclusions
