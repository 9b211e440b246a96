-- London LAS dispatches with every quasi-identifier the mart publishes generalised, record by record,
-- until every group of records a reader can form from them holds at least var('las_min_group_size')
-- records (k-anonymity over all of them: area, week, time of day, call and incident category, age band
-- and sex within the borough and month; docs/disclosure-control.md). Each level below is coarser than the
-- one before; a record takes the first level whose group, counted among the records not yet placed, is
-- large enough, so every released group is whole. Records no level can place share their borough and
-- month with nothing else released; where they are fewer than k, records that other groups can spare
-- (beyond their k-th) join them, or, when too few can be spared, every record of that borough and month
-- does. A borough with fewer than k records in a month stays below k: the check holds that month.
{%- set k = var('las_min_group_size') %}
{#- level -> the released value of each quasi-identifier (null or 'withheld' where it is not released) -#}
{%- set levels = [
    {'lsoa_code': 'lsoa_code', 'incident_week': 'incident_week', 'time_of_day': 'time_band',
     'call_category': 'call_category', 'incident_category_code': 'incident_category_code',
     'age_band': 'age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'incident_week', 'time_of_day': 'time_band',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': 'wide_age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'time_band',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': 'wide_age_band', 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'day_or_night',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': 'sex'},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': 'day_or_night',
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': "'withheld'"},
    {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': "'withheld'",
     'call_category': "'withheld'", 'incident_category_code': 'incident_category_code',
     'age_band': "'withheld'", 'sex': "'withheld'"},
] %}
{%- set withheld = {'lsoa_code': 'null::text', 'incident_week': 'null::date', 'time_of_day': "'withheld'",
    'call_category': "'withheld'", 'incident_category_code': 'null::text', 'age_band': "'withheld'",
    'sex': "'withheld'"} %}
{%- set last = levels | length %}
with

described as (
    select * from {{ ref('int_las_dispatches_categorised') }}
),

{%- for level in levels %}
{%- set i = loop.index0 %}
{%- set previous = 'null::int' if i == 0 else 'level_after_' ~ (i - 1) %}

placed_{{ i }} as (
    select
        *,
        case
            when {{ previous }} is not null then {{ previous }}
            when
                {% if i == 0 %}lsoa_code is not null and {% endif -%}
                count(*) over (
                    partition by
                        incident_month,
                        borough_code,
                        {%- for expression in level.values() %}
                        {{ expression }},
                        {%- endfor %}
                        {{ previous }} is null{% if i == 0 %}, lsoa_code is null{% endif %}
                ) >= {{ k }}
                then {{ i }}
        end as level_after_{{ i }}
    from {{ 'described' if i == 0 else 'placed_' ~ (i - 1) }}
),
{%- endfor %}

-- the groups as placed, and the records other groups can spare (those beyond their k-th)
ranked as (
    select
        *,
        count(*) filter (where level_after_{{ last - 1 }} is null)
            over (partition by incident_month, borough_code)
            as unplaced_records,
        level_after_{{ last - 1 }} is not null and row_number() over (
            partition by
                incident_month,
                borough_code,
                level_after_{{ last - 1 }},
                {%- for column in withheld %}
                case level_after_{{ last - 1 }}
                    {%- for level in levels %}
                    when {{ loop.index0 }} then {{ level[column] }}
                    {%- endfor %}
                end
                {{- ',' if not loop.last }}
                {%- endfor %}
            order by dispatch_key
        ) > {{ k }} as is_spare
    from placed_{{ last - 1 }}
),

counted as (
    select
        *,
        count(*) filter (where is_spare) over (partition by incident_month, borough_code) as spare_records
    from ranked
),

topped_up as (
    select
        *,
        case
            when level_after_{{ last - 1 }} is null then {{ last }}
            -- too few to spare: the whole borough and month shares the last level
            when unplaced_records between 1 and {{ k - 1 }} and spare_records < {{ k }} - unplaced_records
                then {{ last }}
            when
                is_spare
                and unplaced_records between 1 and {{ k - 1 }}
                and row_number() over (
                    partition by incident_month, borough_code, is_spare
                    order by level_after_{{ last - 1 }} desc, dispatch_key
                ) <= {{ k }} - unplaced_records
                then {{ last }}
            else level_after_{{ last - 1 }}
        end as generalisation_level
    from counted
),

final as (
    select
        dispatch_key,
        agency,
        incident_month,
        borough_code,
        generalisation_level,
        {%- for column in withheld %}
        case generalisation_level
            {%- for level in levels %}
            when {{ loop.index0 }} then {{ level[column] }}
            {%- endfor %}
            else {{ withheld[column] }}
        end as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from topped_up
)

select * from final
