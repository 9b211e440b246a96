{{ config(alias='agg_recorded_crimes_monthly') }}

{{ sdc_monthly_aggregate('fct_recorded_crimes', 'mps_recorded_crime_outcomes', 'recorded_crime_count') }}
