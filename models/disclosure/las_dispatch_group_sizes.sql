-- The k-anonymity of the LAS record-level mart, per month, counted as a reader counts: the records of
-- marts.fct_ambulance_violence_dispatches grouped by every quasi-identifier its YAML declares, a withheld
-- value (NULL or 'withheld') being a value like any other, so a record whose age and sex are withheld is
-- counted only with the records that share that too. k is the smallest such group (any coarser selection
-- a reader makes is a union of them); with the records kept at each generalisation level.
-- `safestats sdc check` holds a month whose smallest group is below var('las_min_group_size').
{%- set quasi_identifiers = quasi_identifiers('fct_ambulance_violence_dispatches') %}
{%- set grouped = ['incident_month'] + (quasi_identifiers | reject('equalto', 'incident_month') | list) %}
with

dispatches as (
    select * from {{ ref('fct_ambulance_violence_dispatches') }}
    where {{ refreshed_months('incident_month') }}
),

groups_read as (
    select
        incident_month,
        count(*) as group_records
    from dispatches
    group by {{ grouped | join(', ') }}
),

smallest as (
    select
        incident_month,
        min(group_records) as smallest_group_size,
        count(*) as groups_released
    from groups_read
    group by incident_month
),

levels as (
    select
        incident_month,
        count(*) as dispatch_records,
        {%- for level in range(7) %}
            count(*) filter (where generalisation_level = {{ level }}) as level_{{ level }}_records,
        {%- endfor %}
        count(*) filter (where generalisation_level > 6) as beyond_records
    from dispatches
    group by incident_month
),

final as (
    select
        levels.incident_month,
        {{ var('las_min_group_size') }} as min_group_size,
        smallest.smallest_group_size,
        smallest.groups_released,
        {%- for level in range(7) %}
            levels.level_{{ level }}_records,
        {%- endfor %}
        levels.dispatch_records
    from levels
    inner join smallest
        on levels.incident_month = smallest.incident_month
)

select * from final
