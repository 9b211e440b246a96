{#- The MPS victims and perpetrators are the same shape at every layer: one macro per layer, the person
    ('victim' or 'perpetrator') naming the staging model, the key (crime_<person>_key) and the person's
    number within the crime (<person>_number). -#}

{#- The privacy boundary: crime ids become the same keyed pseudonyms as in police_uk_street_crimes, people are described
    only by broad ethnic group, sex and age band, and each row is placed in a London borough or marked as not
    placeable. -#}
{% macro mps_person_suppressed(person) %}
with

people as (
    select * from {{ ref('stg_mps__crime_' ~ person ~ 's') }}
),

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

located as (
    select
        people.*,
        boroughs.borough_code
    from people
    left join boroughs
        on {{ mps_borough_key('people.borough') }} = {{ mps_borough_key('boroughs.borough_name') }}
),

suppressed as (
    select
        {{ row_key('load_id', 'source_row_number') }} as crime_{{ person }}_key,
        load_id,
        source_row_number,
        agency,
        {{ pseudonymise('crime_id') }} as crime_pseudo_id,
        {{ person }}_number,
        recorded_month,
        borough_code,
        {{ mps_borough_status('borough', 'borough_code') }} as location_status,
        {{ person_ethnicity_group('ethnicity') }} as ethnicity_group,
        {{ person_sex('sex') }} as sex,
        {{ person_age_band('age_range') }} as age_band
    from located
)

select * from suppressed
{% endmacro %}

{#- London people with the crime's incident category and the coarser values generalisation can release
    (category group, wide age band). -#}
{% macro mps_person_categorised(person) %}
with

people as (
    select * from {{ ref('mps_crime_' ~ person ~ 's') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

crime_categories as (
    -- one category per crime (from its latest row should the MPS ever send a crime twice)
    select * from {{ ref('int_mps_recorded_crimes_latest') }}
),

categories as (
    select * from {{ ref('incident_categories') }}
),

london_people as (
    select * from people
    where location_status = 'london'
),

final as (
    select
        london_people.crime_{{ person }}_key,
        london_people.crime_pseudo_id,
        london_people.{{ person }}_number,
        london_people.recorded_month as incident_month,
        london_people.agency,
        london_people.borough_code,
        boroughs.borough_name,
        crime_categories.incident_category_code,
        categories.category_group,
        crime_categories.is_knife_crime,
        london_people.ethnicity_group,
        london_people.sex,
        london_people.age_band,
        {{ mps_wide_age_band('london_people.age_band') }} as wide_age_band
    from london_people
    inner join boroughs
        on london_people.borough_code = boroughs.borough_code
    left join crime_categories
        on london_people.crime_pseudo_id = crime_categories.crime_pseudo_id
    left join categories
        on crime_categories.incident_category_code = categories.incident_category_code
)

select * from final
{% endmacro %}

{#- The record-level mart: the generalised people of borough-months that reach k. -#}
{% macro mps_person_record_mart(person) %}
with

people as (
    select * from {{ ref('int_mps_crime_' ~ person ~ 's_generalised') }}
),

final as (
    select
        crime_{{ person }}_key,
        {{ person }}_number,
        incident_month,
        agency,
        borough_code,
        borough_name,
        incident_category_code,
        category_group,
        is_knife_crime,
        ethnicity_group,
        sex,
        age_band,
        generalisation_level
    from people
    where not is_withheld
)

select * from final
{% endmacro %}
