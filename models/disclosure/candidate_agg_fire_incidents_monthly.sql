{{ config(alias='agg_fire_incidents_monthly') }}

{{ sdc_monthly_aggregate('fct_fire_incidents', 'lfb_incidents', 'fire_incident_count', ward_from='ward') }}
