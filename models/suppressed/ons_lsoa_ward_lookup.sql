-- The ONS LSOA -> ward -> local authority lookup past the privacy boundary. It is published open data
-- about places, not people: nothing to pseudonymise or generalise, so every column passes. It sits here
-- only because nothing downstream reads staging.
-- One lookup vintage, small: rebuilt whole every time.
{{ config(materialized='table') }}

with

lookup as (
    select * from {{ ref('stg_ons__lsoa_ward_lookup') }}
),

suppressed as (
    select
        load_id,
        source_row_number,
        lookup_vintage_month,
        is_latest_vintage,
        lsoa_code,
        lsoa_name,
        ward_code,
        ward_name,
        borough_code,
        borough_name
    from lookup
)

select * from suppressed
