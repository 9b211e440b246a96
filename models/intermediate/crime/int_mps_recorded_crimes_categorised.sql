-- Every MPS recorded crime (London or not) with its incident category: the offence subgroup's category,
-- or knife_or_sharp_instrument when the crime is knife-flagged and its subgroup counts knife use as knife crime.
with

recorded_crimes as (
    select * from {{ ref('mps_recorded_crime_outcomes') }}
),

categories as (
    select * from {{ ref('mps_recorded_crime_outcomes_categories') }}
),

matched as (
    select
        recorded_crimes.*,
        categories.incident_category_code as subgroup_category_code,
        categories.knife_incident_category_code,
        categories.offence_subgroup is not null as is_offence_mapped
    from recorded_crimes
    left join categories
        on
            lower(btrim(recorded_crimes.offence_group)) = lower(btrim(categories.offence_group))
            and lower(btrim(recorded_crimes.offence_subgroup)) = lower(btrim(categories.offence_subgroup))
),

categorised as (
    select
        recorded_crime_key,
        load_id,
        source_row_number,
        agency,
        crime_pseudo_id,
        recorded_month,
        borough_code,
        location_status,
        offence_group,
        offence_subgroup,
        has_knife_flag,
        is_offence_mapped,
        outcome,
        outcome_date,
        has_knife_flag and knife_incident_category_code is not null as is_knife_crime,
        case
            when has_knife_flag and knife_incident_category_code is not null then knife_incident_category_code
            else coalesce(subgroup_category_code, 'other')
        end as incident_category_code
    from matched
)

select * from categorised
