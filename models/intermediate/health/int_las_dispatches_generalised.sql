-- London LAS dispatches with every quasi-identifier the mart publishes generalised, record by record,
-- until every group of records a reader can form from them holds at least var('las_min_group_size')
-- records (k-anonymity over all of them: area, week, time of day, call and incident category, age band
-- and sex within the borough and month; docs/disclosure-control.md). The levels, finest first, are below;
-- how a record is placed is macros/generalised_to_k.sql. A borough with fewer than k records in a month
-- cannot reach k: its records are withheld (is_withheld), left out of the record-level mart and counted in
-- quality.las_violence_dispatches_exclusions; the aggregates count them (they read the records before this).
-- A table, not a view: the mart, the exclusions and the tests each read it, and each read of a view would
-- generalise every record again. Every group lies within one borough and month, so a refresh rebuilds the
-- months that changed (macros/refresh_by_month.sql).
{{ config(materialized='partitioned_table', month_column='incident_month') }}
{%- set k = var('las_min_group_size') | int %}
{#- level -> the released value of each quasi-identifier (null or 'withheld' where it is not released) -#}
{%- set levels = [
    {'lsoa_code': 'lsoa_code', 'incident_week': 'incident_week', 'time_of_day': 'time_band',
     'call_category': 'call_category', 'incident_category_code': 'incident_category_code',
     'age_band': 'age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'incident_week', 'time_of_day': 'time_band',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': 'wide_age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'time_band',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': 'wide_age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'day_or_night',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'day_or_night',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': "'withheld'"},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': "'withheld'",
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': "'withheld'"},
] %}
{%- set withheld = {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': "'withheld'",
    'call_category': "'withheld'", 'incident_category_code': 'null::text', 'age_band': "'withheld'",
    'sex': "'withheld'"} %}
{{ generalised_to_k(ref('int_las_dispatches_categorised'), levels, withheld, k, 'lsoa_code') }}
