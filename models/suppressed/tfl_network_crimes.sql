-- The privacy boundary for crime on the TfL network: no identifier or point location arrives; station
-- and route names are public places and stay; the time of day is kept to the hour.
{{ config(month_column='incident_month') }}
with

crimes as (
    select * from {{ ref('stg_tfl__network_crimes') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

suppressed as (
    select
        {{ row_key('crimes.load_id', 'crimes.source_row_number') }} as transport_crime_key,
        crimes.load_id,
        crimes.source_row_number,
        crimes.agency,
        date_trunc('month', crimes.offence_date)::date as incident_month,
        crimes.offence_date,
        extract(hour from crimes.offence_time)::integer as offence_hour,
        crimes.mode,
        crimes.line_name,
        crimes.route_or_station,
        boroughs.borough_code,
        case
            when boroughs.borough_code is not null then 'london'
            when crimes.borough_code is null then 'no_borough'
            else 'outside_london'
        end as location_status,
        crimes.offence_category,
        crimes.recorded_by
    from crimes
    left join boroughs
        on crimes.borough_code = boroughs.borough_code
)

select * from suppressed
