{{ config(alias='agg_asb_incidents_monthly') }}

{{ sdc_monthly_aggregate('fct_asb_incidents', 'mps_asb_incidents', 'asb_incident_count', ward_from='lsoa') }}
