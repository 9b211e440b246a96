-- London geography at three levels, one row per area: every borough (always, from the boroughs seed),
-- and every ward and LSOA of the latest ONS LSOA -> ward lookup loaded (none until one is). GSS codes
-- are unique across levels (E01 LSOA, E05 ward, E09 borough), so geography_code is the key facts join
-- on, whether they carry an lsoa_code or a borough_code; each row also carries its ward and borough
-- so that LSOA rows roll up by ward_code or borough_code, and a point for maps (latitude, longitude).
-- Rebuilt whole; a build that changes its rows has the month-by-month tables that read it built whole next.
-- Unique on geography_code: a dashboard query that left-joins it and reads none of its columns skips the join.
{{ config(month_source='whole', indexes=[{'columns': ['geography_code'], 'unique': true}]) }}
with

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

lookup as (
    select * from {{ ref('ons_lsoa_ward_lookup') }}
),

centroids as (
    select * from {{ ref('ons_lsoa_centroids') }}
),

-- Each LSOA's centroid from the latest boundaries loaded (none until one is): the point maps place it at.
latest_centroids as (
    select
        lsoa_code,
        latitude,
        longitude
    from centroids
    where is_latest_vintage
),

-- The latest vintage, London rows only: the platform team may load the national file as published.
london_lookup as (
    select
        lookup.lookup_vintage_month,
        lookup.lsoa_code,
        lookup.lsoa_name,
        lookup.ward_code,
        lookup.ward_name,
        lookup.borough_code
    from lookup
    inner join boroughs
        on lookup.borough_code = boroughs.borough_code
    where lookup.is_latest_vintage
),

lsoas as (
    select
        'lsoa' as geography_level,
        london_lookup.lsoa_code as geography_code,
        london_lookup.lsoa_name as geography_name,
        'ward' as parent_geography_level,
        london_lookup.ward_code as parent_geography_code,
        london_lookup.lsoa_code,
        london_lookup.lsoa_name,
        london_lookup.ward_code,
        london_lookup.ward_name,
        boroughs.borough_code,
        boroughs.borough_name,
        boroughs.inner_outer,
        london_lookup.lookup_vintage_month,
        latest_centroids.latitude,
        latest_centroids.longitude
    from london_lookup
    inner join boroughs
        on london_lookup.borough_code = boroughs.borough_code
    left join latest_centroids
        on london_lookup.lsoa_code = latest_centroids.lsoa_code
),

-- A ward's and a borough's point: the mean of their LSOAs' centroids, to 3 decimals as theirs (NULL without).
wards as (
    select
        'ward' as geography_level,
        ward_code as geography_code,
        ward_name as geography_name,
        'borough' as parent_geography_level,
        borough_code as parent_geography_code,
        null::text as lsoa_code,
        null::text as lsoa_name,
        ward_code,
        ward_name,
        borough_code,
        borough_name,
        inner_outer,
        lookup_vintage_month,
        round(avg(latitude), 3) as latitude,
        round(avg(longitude), 3) as longitude
    from lsoas
    group by ward_code, ward_name, borough_code, borough_name, inner_outer, lookup_vintage_month
),

borough_points as (
    select
        borough_code,
        round(avg(latitude), 3) as latitude,
        round(avg(longitude), 3) as longitude
    from lsoas
    group by borough_code
),

borough_rows as (
    select
        'borough' as geography_level,
        boroughs.borough_code as geography_code,
        boroughs.borough_name as geography_name,
        null::text as parent_geography_level,
        null::text as parent_geography_code,
        null::text as lsoa_code,
        null::text as lsoa_name,
        null::text as ward_code,
        null::text as ward_name,
        boroughs.borough_code,
        boroughs.borough_name,
        boroughs.inner_outer,
        null::date as lookup_vintage_month,
        borough_points.latitude,
        borough_points.longitude
    from boroughs
    left join borough_points
        on boroughs.borough_code = borough_points.borough_code
),

unioned as (
    select * from borough_rows
    union all
    select * from wards
    union all
    select * from lsoas
)

select * from unioned
