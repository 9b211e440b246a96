-- The privacy boundary for MPS anti-social behaviour calls: the CAD reference becomes a keyed pseudonym,
-- the free-text location is dropped (the LSOA is the finest place kept), the call time is kept to the hour.
{{ config(month_column='incident_month') }}
with

asb_incidents as (
    select * from {{ ref('stg_mps__asb_incidents') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        asb_incidents.*,
        boroughs.borough_code
    from asb_incidents
    left join boroughs
        on {{ mps_borough_key('asb_incidents.borough') }} = {{ mps_borough_key('boroughs.borough_name') }}
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as asb_incident_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('incident_reference') }} as incident_pseudo_id,
        date_trunc('month', called_at)::date as incident_month,
        called_at::date as call_date,
        extract(hour from called_at)::integer as call_hour,
        lsoa_code,
        borough_code,
        {{ mps_borough_status('borough', 'borough_code') }} as location_status,
        response_time_minutes,
        initcap(incident_type) as incident_type,
        incident_subtype
    from located
)

select * from suppressed
