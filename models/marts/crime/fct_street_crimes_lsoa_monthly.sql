-- Street crimes counted by month, LSOA and crime category group: fct_street_crimes summed once per refreshed
-- month, for the hotspot maps (which place each LSOA at its centroid in marts.dim_geography) and ward tables.
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
        lsoa_code,
        lsoa_name,
        category_group,
        count(*) as crime_count
    from street_crimes
    group by 1, 2, 3, 4, 5, 6
)

select * from final
