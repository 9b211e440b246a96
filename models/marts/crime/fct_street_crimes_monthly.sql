-- Street crimes counted by month, borough, force and crime category: fct_street_crimes summed once per
-- refreshed month, so that dashboards and the semantic layer's metrics read a few thousand rows rather than
-- every record.
{{ config(month_column='crime_month') }}
with

street_crimes as (
    select * from {{ ref('fct_street_crimes') }}
),

final as (
    select
        crime_month,
        borough_code,
        borough_name,
        iso_3166_2_code,
        force_name,
        crime_type,
        category_group,
        incident_category_code,
        count(*) as crime_count
    from street_crimes
    group by 1, 2, 3, 4, 5, 6, 7, 8
)

select * from final
