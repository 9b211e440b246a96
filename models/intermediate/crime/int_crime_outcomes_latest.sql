-- One row per pseudonymised crime with its latest outcome from the police.uk outcomes dataset.
-- Latest = latest outcome month; within a month, the latest load and then the last row in the file
-- wins, so the choice is deterministic and a revised month replaces what the old file said.
with

crime_outcomes as (
    select * from {{ ref('police_uk_crime_outcomes') }}
),

ranked as (
    select
        crime_pseudo_id,
        outcome_key,
        agency,
        force_name,
        outcome_month,
        outcome_type,
        row_number() over (
            partition by crime_pseudo_id
            order by outcome_month desc, load_id desc, source_row_number desc
        ) as recency_rank,
        count(*) over (partition by crime_pseudo_id) as outcome_row_count
    from crime_outcomes
    where crime_pseudo_id is not null
),

latest as (
    select
        crime_pseudo_id,
        outcome_key,
        agency,
        force_name,
        outcome_month,
        outcome_type,
        outcome_row_count
    from ranked
    where recency_rank = 1
)

select * from latest
