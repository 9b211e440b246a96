-- The privacy boundary for police.uk street-level crime: crime ids become keyed pseudonyms, point
-- coordinates, street descriptions and free-text context are dropped, the LSOA is the finest place kept.
-- Indexed by crime: fct_street_crimes rebuilds the street crimes of the crimes whose latest outcome changed.
{{ config(month_column='crime_month', indexes=[{'columns': ['crime_pseudo_id']}]) }}
with

street_crimes as (
    select * from {{ ref('stg_police_uk__street_crimes') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        street_crimes.*,
        boroughs.borough_code
    from street_crimes
    left join boroughs
        on lower({{ lsoa_borough_name('street_crimes.lsoa_name') }}) = lower(boroughs.borough_name)
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as street_crime_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('crime_id') }} as crime_pseudo_id,
        crime_month,
        reported_by as force_name,
        falls_within as falls_within_force_name,
        lsoa_code,
        lsoa_name,
        borough_code,
        {{ police_uk_location_status('lsoa_code', 'location', 'borough_code') }} as location_status,
        crime_type,
        last_outcome_category
    from located
)

select * from suppressed
