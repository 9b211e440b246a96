-- One row per pseudonymised crime with its latest outcome from the police.uk outcomes dataset.
-- Latest = latest outcome month; within a month, the latest load and then the last row in the file
-- wins, so the choice is deterministic and a revised month replaces what the old file said.
-- A table keyed and indexed by the crime's pseudonym, so a street crime joins its outcome without ranking
-- every outcome; "no later row of the same crime" (rather than a ranking over every crime) lets a refresh
-- rebuild only the months it needs: the months that changed and the months of the crimes whose rows changed
-- (macros/refresh_by_month.sql). It records the crimes whose row here changed (change_key) for the tables
-- that read it by crime.
{{ config(materialized='partitioned_table', month_column='outcome_month', change_key='crime_pseudo_id',
          months_by_key={'police_uk_crime_outcomes': 'crime_pseudo_id'},
          indexes=[{'columns': ['crime_pseudo_id'], 'unique': true}]) }}
with

crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

outcome_rows as (
    select
        crime_pseudo_id,
        count(*) as outcome_row_count
    from crime_outcomes
    where crime_pseudo_id is not null
    group by crime_pseudo_id
),

latest as (
    select
        crime_outcomes.crime_pseudo_id,
        crime_outcomes.outcome_key,
        crime_outcomes.agency,
        crime_outcomes.force_name,
        crime_outcomes.outcome_month,
        crime_outcomes.outcome_type,
        outcome_rows.outcome_row_count
    from crime_outcomes
    inner join outcome_rows
        on crime_outcomes.crime_pseudo_id = outcome_rows.crime_pseudo_id
    where
        not exists (
            -- outcome_month, load_id and source_row_number are never NULL (their not_null tests)
            select from crime_outcomes as later_rows
            where
                later_rows.crime_pseudo_id = crime_outcomes.crime_pseudo_id
                and (later_rows.outcome_month, later_rows.load_id, later_rows.source_row_number)
                > (crime_outcomes.outcome_month, crime_outcomes.load_id, crime_outcomes.source_row_number)
        )
)

select * from latest
