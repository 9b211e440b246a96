-- Perpetrators of MPS recorded crimes placed in a London borough, with the crime's incident category and the
-- coarser values generalisation can release (category group, wide age band). Not released as such: the
-- disclosure-controlled aggregate counts these, the record-level mart their generalisation.
with

people as (
    select * from {{ ref('mps_crime_perpetrators') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

recorded_crimes as (
    select * from {{ ref('int_mps_recorded_crimes_categorised') }}
),

categories as (
    select * from {{ ref('incident_categories') }}
),

crime_categories as (
    -- one category per crime (the latest row should the MPS ever send a crime twice)
    select distinct on (crime_pseudo_id)
        crime_pseudo_id,
        incident_category_code,
        is_knife_crime
    from recorded_crimes
    order by crime_pseudo_id asc, recorded_month desc, load_id desc, source_row_number desc
),

london_people as (
    select * from people
    where location_status = 'london'
),

final as (
    select
        london_people.crime_perpetrator_key,
        london_people.crime_pseudo_id,
        london_people.perpetrator_number,
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
