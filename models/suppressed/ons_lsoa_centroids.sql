-- ONS LSOA centroids past the privacy boundary: published open data about places (one point per area,
-- not per person). The point is coarsened to 3 decimals (about 100 m): an area's reference point, never as
-- precise as a point location (the scan, data-tests/assert_no_point_location_past_the_privacy_boundary.sql,
-- holds every column marked area_point to that). Small: rebuilt whole every time.
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
        round(longitude::numeric, 3) as longitude,
        round(latitude::numeric, 3) as latitude
    from centroids
)

select * from suppressed
