{{ config(alias='agg_bus_safety_incidents_monthly') }}

{{ sdc_monthly_aggregate('fct_bus_safety_incidents', 'tfl_bus_safety_incidents', 'bus_safety_incident_count') }}
