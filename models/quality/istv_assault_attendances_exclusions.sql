-- ISTV attendances kept out of marts.fct_ed_assault_attendances, counted per site, month and reason:
-- rows whose own site code is not the site that sent the file (another site's rows in the file).
with

attendances as (
    select * from {{ ref('istv_assault_attendances') }}
),

exclusions as (
    {{ excluded_rows(
        'istv_assault_attendances', 'attendances', 'arrival_month', reason_column='site_status', kept_value='ok'
    ) }}
)

select * from exclusions
