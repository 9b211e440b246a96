-- ONS LSOA centroids past the privacy boundary: published open data about places (one point per area,
-- not per person), so every column passes. It sits here only because nothing downstream reads staging.
-- Small: rebuilt whole every time.
{{ config(materialized='table') }}

with

centroids as (
    select * from {{ ref('stg_ons__lsoa_centroids') }}
),

suppressed as (
    select
        load_id,
        source_row_number,
        boundaries_vintage_month,
        is_latest_vintage,
        lsoa_code,
        lsoa_name,
        longitude,
        latitude
    from centroids
)

select * from suppressed
