-- London perpetrators of MPS recorded crimes with every quasi-identifier the mart publishes generalised, record by
-- record, until every group of records a reader can form from them holds at least var('mps_min_group_size')
-- records (k-anonymity over all of them within the borough and month; docs/disclosure-control.md). The
-- levels, finest first, are below; how a record is placed is macros/generalised_to_k.sql. A borough with
-- fewer than k perpetrators in a month cannot reach k: its records are withheld (is_withheld), left out of the
-- record-level mart and counted in quality.mps_crime_perpetrators_exclusions; the aggregate counts them.
-- A table, not a view: the mart, the exclusions and the tests each read it, and each read of a view would
-- generalise every record again. Every group lies within one borough and month, and a crime's category
-- (int_mps_recorded_crimes_latest, whatever its month) reaches it by the crime's pseudonym, so a refresh
-- rebuilds the months that changed and the months of the crimes whose category changed
-- (macros/refresh_by_month.sql).
{{ config(materialized='partitioned_table', month_column='incident_month',
          months_by_key={'int_mps_recorded_crimes_latest': 'crime_pseudo_id'}) }}
{%- set k = var('mps_min_group_size') | int %}
{{ generalised_to_k(
    ref('int_mps_crime_perpetrators_categorised'),
    mps_person_levels('perpetrator_number'),
    mps_person_withheld('perpetrator_number'),
    k,
    'perpetrator_number',
    key='crime_perpetrator_key',
    carried=['crime_pseudo_id', 'agency', 'borough_name'],
) }}
