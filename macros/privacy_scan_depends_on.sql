{#- The models the privacy scans must run after: the last models past the privacy boundary, those no
    other model past it reads (every other one is built before them). dbt needs these refs at parse
    time, when the project graph is still empty, so they are listed here, once, for every scan;
    tests/test_privacy_scans.py fails when a model past the boundary is neither listed nor upstream of
    one listed. The published aggregates (models/marts/aggregates) are left out on purpose: they hold
    only months copied from their candidates (listed), and `safestats sdc release` rebuilds them with
    `dbt build --select marts.aggregates`, which must not pull in the scans. Call it at the top of a
    scan test: {{ privacy_scan_depends_on() }} -#}
{% macro privacy_scan_depends_on() -%}
    {%- set last_models = [
        'candidate_agg_asb_incidents_monthly',
        'candidate_agg_borough_violence_core_monthly',
        'candidate_agg_bus_safety_incidents_monthly',
        'candidate_agg_crime_outcomes_monthly',
        'candidate_agg_crime_perpetrators_monthly',
        'candidate_agg_crime_victims_monthly',
        'candidate_agg_fire_incidents_monthly',
        'candidate_agg_transport_crimes_monthly',
        'dim_borough_month_population',
        'dim_geography',
        'dim_hospital_site',
        'dim_incident_category',
        'fct_asb_incidents_monthly',
        'fct_borough_violence_core',
        'fct_crime_perpetrators',
        'fct_crime_victims',
        'fct_ed_site_data_quality',
        'fct_street_crimes_lsoa_monthly',
        'fct_street_crimes_monthly',
        'istv_assault_attendances_exclusions',
        'las_dispatch_group_sizes',
        'las_violence_dispatches_exclusions',
        'metrics_street_crimes_by_borough_month',
        'lfb_incidents_exclusions',
        'mps_asb_incidents_exclusions',
        'mps_crime_perpetrators_exclusions',
        'mps_crime_victims_exclusions',
        'mps_recorded_crime_outcomes_exclusions',
        'police_uk_crime_outcomes_exclusions',
        'police_uk_street_crimes_exclusions',
        'snp_crime_outcomes',
        'tfl_bus_safety_incidents_exclusions',
        'tfl_network_crimes_exclusions',
    ] -%}
    {%- for name in last_models %}
-- depends_on: {{ ref(name) }}
    {%- endfor %}
{%- endmacro %}
