{{ config(alias='agg_crime_victims_monthly') }}

{{ sdc_monthly_aggregate('fct_crime_victims', 'mps_crime_victims', 'crime_victim_count') }}
