{{ config(alias='agg_transport_crimes_monthly') }}

{{ sdc_monthly_aggregate('fct_transport_crimes', 'tfl_network_crimes', 'transport_crime_count') }}
