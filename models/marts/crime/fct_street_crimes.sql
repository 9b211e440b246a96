-- One row per street-level crime or anti-social behaviour record located in a London LSOA, with
-- its borough, crime category and latest known outcome.
-- A refresh rebuilds the months of the street crimes it loaded and the rows of the crimes whose latest outcome
-- changed (rows_by_key: a row reads only its own crime's outcome). The outcome sets one column of a crime's rows
-- and no more: which rows there are, their month and their borough come from the street records alone
-- (keyed_rows_in_place: a crime's rows before are in the boroughs of its rows rebuilt).
{{ config(month_column='crime_month', months_by_key={'int_crime_outcomes_latest': 'crime_pseudo_id'},
          rows_by_key=true, keyed_rows_in_place=true) }}
with

street_crimes as (
    select * from {{ ref('police_uk_street_crimes') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

crime_categories as (
    select * from {{ ref('crime_categories') }}
),

latest_outcomes as (
    select * from {{ ref('int_crime_outcomes_latest') }}
),

london_street_crimes as (
    select * from street_crimes
    where location_status = 'london'
),

final as (
    select
        london_street_crimes.street_crime_key,
        london_street_crimes.crime_pseudo_id,
        london_street_crimes.crime_month,
        london_street_crimes.force_name,
        london_street_crimes.agency,
        london_street_crimes.borough_code,
        boroughs.borough_name,
        boroughs.iso_3166_2_code,
        london_street_crimes.lsoa_code,
        london_street_crimes.lsoa_name,
        london_street_crimes.crime_type,
        coalesce(crime_categories.category_group, 'Unclassified') as category_group,
        -- A crime type the seed does not know yet is 'other' (category_group's warning asks for the seed).
        coalesce(crime_categories.incident_category_code, 'other') as incident_category_code,
        -- The crime's latest outcome, looked up by its (uniquely indexed) pseudonym row by row: read once, so a
        -- refresh's month filter reaches the street crimes, and no hash join of the street records, whose
        -- anti-social behaviour rows share one NULL key (at ten years such a hash split that one batch until
        -- the disk filled).
        coalesce(
            (
                select latest_outcomes.outcome_type
                from latest_outcomes
                where latest_outcomes.crime_pseudo_id = london_street_crimes.crime_pseudo_id
            ),
            london_street_crimes.last_outcome_category
        ) as last_outcome_category
    from london_street_crimes
    inner join boroughs
        on london_street_crimes.borough_code = boroughs.borough_code
    left join crime_categories
        on lower(london_street_crimes.crime_type) = lower(crime_categories.crime_type)
)

select * from final
