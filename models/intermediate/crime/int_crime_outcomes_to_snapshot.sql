-- The crimes' latest outcomes the outcome history snapshot (snp_crime_outcomes) compares with its current rows:
-- during a refresh, those of the crimes whose latest outcome changed since the snapshot last ran (every other
-- crime's current row is as it was); every crime otherwise (macros/snapshot_by_key.sql).
{{ config(materialized='view') }}
{%- set changed = snapshot_changed_keys('snapshots.snp_crime_outcomes', 'intermediate.int_crime_outcomes_latest') %}
with

latest as (
    select * from {{ ref('int_crime_outcomes_latest') }}
)

select * from latest
where {{ 'true' if changed is none else 'crime_pseudo_id in (' ~ changed ~ ')' }}
