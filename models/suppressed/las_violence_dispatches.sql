-- The privacy boundary for LAS violence-related dispatches: the CAD incident reference becomes a keyed
-- pseudonym, exact ages become bands, call times are kept to the hour, and the dispatch point never passes:
-- a row CAD located to an LSOA keeps the LSOA, a row with only a point keeps its borough only.
{{ config(month_column='incident_month') }}
with

dispatches as (
    select * from {{ ref('stg_las__violence_dispatches') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        dispatches.*,
        boroughs.borough_code as london_borough_code
    from dispatches
    left join boroughs
        on dispatches.borough_code = boroughs.borough_code
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as dispatch_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('incident_reference') }} as incident_pseudo_id,
        date_trunc('month', incident_date)::date as incident_month,
        incident_date,
        extract(hour from incident_time)::integer as incident_hour,
        call_category,
        {{ age_band('patient_age') }} as age_band,
        patient_sex as sex,
        london_borough_code as borough_code,
        case when london_borough_code is not null then lsoa_code end as lsoa_code,
        case
            when london_borough_code is null then 'none'
            when lsoa_code is not null then 'lsoa'
            else 'borough'
        end as location_precision,
        case
            when london_borough_code is not null then 'london'
            when borough_code is not null then 'outside_london'
            else 'no_borough'
        end as location_status
    from located
)

select * from suppressed
