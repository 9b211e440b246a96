-- Row conservation into staging: every raw row of a currently active load (status 'loaded') is in
-- staging, and staging holds no row that is not one (none of a superseded or quarantined load).
with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

raw_street_crimes as (
    select * from {{ source('police_uk', 'street_crimes') }}
),

raw_crime_outcomes as (
    select * from {{ source('police_uk', 'crime_outcomes') }}
),

raw_ons_lsoa_ward_lookup as (
    select * from {{ source('ons', 'lsoa_ward_lookup') }}
),

staged_street_crimes as (
    select * from {{ ref('stg_police_uk__street_crimes') }}
),

staged_crime_outcomes as (
    select * from {{ ref('stg_police_uk__crime_outcomes') }}
),

staged_ons_lsoa_ward_lookup as (
    select * from {{ ref('stg_ons__lsoa_ward_lookups') }}
),

raw_rows as (
    select
        '{{ source("police_uk", "street_crimes").identifier }}' as dataset,
        _load_id as load_id,
        _source_row_number as source_row_number
    from raw_street_crimes
    union all
    select
        '{{ source("police_uk", "crime_outcomes").identifier }}' as dataset,
        _load_id as load_id,
        _source_row_number as source_row_number
    from raw_crime_outcomes
    union all
    select
        '{{ source("ons", "lsoa_ward_lookup").identifier }}' as dataset,
        _load_id as load_id,
        _source_row_number as source_row_number
    from raw_ons_lsoa_ward_lookup
),

active_raw_rows as (
    select raw_rows.*
    from raw_rows
    inner join loads
        on
            raw_rows.load_id = loads.load_id
            and raw_rows.dataset = loads.dataset
    where loads.status = '{{ var("active_load_status") }}'
),

staged_rows as (
    select
        '{{ source("police_uk", "street_crimes").identifier }}' as dataset,
        load_id,
        source_row_number
    from staged_street_crimes
    union all
    select
        '{{ source("police_uk", "crime_outcomes").identifier }}' as dataset,
        load_id,
        source_row_number
    from staged_crime_outcomes
    union all
    select
        '{{ source("ons", "lsoa_ward_lookup").identifier }}' as dataset,
        load_id,
        source_row_number
    from staged_ons_lsoa_ward_lookup
),

missing_from_staging as (
    select
        'active raw row missing from staging' as problem,
        active_raw_rows.*
    from active_raw_rows
    left join staged_rows
        on
            active_raw_rows.dataset = staged_rows.dataset
            and active_raw_rows.load_id = staged_rows.load_id
            and active_raw_rows.source_row_number = staged_rows.source_row_number
    where staged_rows.load_id is null
),

not_an_active_raw_row as (
    select
        'staged row that is not an active raw row' as problem,
        staged_rows.*
    from staged_rows
    left join active_raw_rows
        on
            staged_rows.dataset = active_raw_rows.dataset
            and staged_rows.load_id = active_raw_rows.load_id
            and staged_rows.source_row_number = active_raw_rows.source_row_number
    where active_raw_rows.load_id is null
),

problems as (
    select * from missing_from_staging
    union all
    select * from not_an_active_raw_row
)

select * from problems
