{{ config(alias='agg_crime_perpetrators_monthly') }}

{{ sdc_monthly_aggregate('fct_crime_perpetrators', 'mps_crime_perpetrators', 'crime_perpetrator_count') }}
