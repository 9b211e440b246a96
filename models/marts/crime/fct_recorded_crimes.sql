-- One row per MPS recorded crime placed in a London borough, with its incident category, whether it is
-- knife crime, and its outcome as at the extract. The MPS feed's counterpart of fct_street_crimes.
{{ config(month_column='incident_month') }}
with

recorded_crimes as (
    select * from {{ ref('int_mps_recorded_crimes_categorised') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

london_recorded_crimes as (
    select * from recorded_crimes
    where location_status = 'london'
),

final as (
    select
        london_recorded_crimes.recorded_crime_key,
        london_recorded_crimes.crime_pseudo_id,
        london_recorded_crimes.recorded_month as incident_month,
        london_recorded_crimes.agency,
        london_recorded_crimes.borough_code,
        boroughs.borough_name,
        london_recorded_crimes.offence_group,
        london_recorded_crimes.offence_subgroup,
        london_recorded_crimes.incident_category_code,
        london_recorded_crimes.is_knife_crime,
        london_recorded_crimes.has_knife_flag,
        london_recorded_crimes.outcome,
        london_recorded_crimes.outcome_date,
        'mps_recorded_crime_outcomes' as outcome_feed
    from london_recorded_crimes
    inner join boroughs
        on london_recorded_crimes.borough_code = boroughs.borough_code
)

select * from final
