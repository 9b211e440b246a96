-- One row per pseudonymised crime with its latest outcome from the police.uk outcomes dataset.
-- Latest = latest outcome month; within a month, the latest load and then the last row in the file
-- wins, so the choice is deterministic and a revised month replaces what the old file said.
-- A table keyed and indexed by the crime's pseudonym, so the street crimes join their outcome without sorting
-- all of history; "no later row of the same crime" (rather than a ranking over every crime) lets a refresh
-- rebuild only the rows it needs: those of the crimes whose rows changed, looked up by the crime's index
-- (rows_by_key, macros/refresh_by_month.sql). It records the crimes whose row here changed (change_key) for the street
-- crimes, which read it by crime.
{{ config(materialized='partitioned_table', month_column='outcome_month', change_key='crime_pseudo_id',
          months_by_key={'police_uk_crime_outcomes': 'crime_pseudo_id'}, rows_by_key=true,
          indexes=[{'columns': ['crime_pseudo_id'], 'unique': true}]) }}
with

crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

-- each a CTE of its own, read once, so that PostgreSQL inlines it and looks rows up by the crime's index
other_rows as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

same_crime_rows as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

latest as (
    select
        crime_outcomes.crime_pseudo_id,
        crime_outcomes.outcome_key,
        crime_outcomes.agency,
        crime_outcomes.force_name,
        crime_outcomes.outcome_month,
        crime_outcomes.outcome_type,
        (
            select count(*) from same_crime_rows
            where same_crime_rows.crime_pseudo_id = crime_outcomes.crime_pseudo_id
        ) as outcome_row_count
    from crime_outcomes
    where
        crime_outcomes.crime_pseudo_id is not null
        and not exists (
            -- outcome_month, load_id and source_row_number are never NULL (their not_null tests)
            select from other_rows
            where
                other_rows.crime_pseudo_id = crime_outcomes.crime_pseudo_id
                and (other_rows.outcome_month, other_rows.load_id, other_rows.source_row_number)
                > (crime_outcomes.outcome_month, crime_outcomes.load_id, crime_outcomes.source_row_number)
        )
)

select * from latest
