-- One row per MPS recorded crime with its incident category from its latest row (should the MPS send a crime
-- twice): the latest recorded month, then the latest load, then the last row in the file. The victims and
-- perpetrators take their crime's category from here (macros/mps_person_models.sql).
-- A table keyed and indexed by the crime's pseudonym, so a person joins their crime without sorting all of
-- history; "no later row of the same crime" (rather than a ranking over every crime) lets a refresh rebuild
-- only the rows it needs: those of the crimes whose rows changed, looked up by the crime's index
-- (rows_by_key, macros/refresh_by_month.sql). It records the crimes whose row here changed (change_key) for the tables
-- that read it by crime.
{{ config(materialized='partitioned_table', month_column='recorded_month', change_key='crime_pseudo_id',
          months_by_key={'mps_recorded_crime_outcomes': 'crime_pseudo_id'}, rows_by_key=true,
          indexes=[{'columns': ['crime_pseudo_id'], 'unique': true}]) }}
with

recorded_crimes as (
    select * from {{ ref('int_mps_recorded_crimes_categorised') }}
),

crime_rows as (
    select * from {{ ref('mps_recorded_crime_outcomes') }}
),

latest as (
    select
        recorded_crimes.crime_pseudo_id,
        recorded_crimes.recorded_month,
        recorded_crimes.incident_category_code,
        recorded_crimes.is_knife_crime
    from recorded_crimes
    where
        recorded_crimes.crime_pseudo_id is not null
        and not exists (
            -- recorded_month, load_id and source_row_number are never NULL (their not_null tests)
            select from crime_rows as later_rows
            where
                later_rows.crime_pseudo_id = recorded_crimes.crime_pseudo_id
                and (later_rows.recorded_month, later_rows.load_id, later_rows.source_row_number)
                > (recorded_crimes.recorded_month, recorded_crimes.load_id, recorded_crimes.source_row_number)
        )
)

select * from latest
