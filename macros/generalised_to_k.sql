{#- Records generalised level by level until every group of records sharing their released values holds at
    least k (k-anonymity over every quasi-identifier; docs/disclosure-control.md). `levels`: each a mapping
    column -> the SQL of its released value at that level, coarser from one level to the next; `withheld`: the
    value of each column beyond the last level. A record takes the first level whose group, counted among the
    records not yet placed (within month and borough), holds k, so every released group is whole; at the first
    level, `first_level_requires` must not be NULL. Records no level places share the level after the last
    with nothing else; fewer than k there are joined by records other groups can spare (beyond their k-th),
    or, when too few can be spared, by every record of their borough and month. A borough and month with
    fewer than k records in all cannot reach k at any level: its records are withheld (`is_withheld`; the
    record-level mart leaves them out, its quality exclusions count them, the aggregates count them as any
    other). `key`: the row key (it orders the records a group can spare); `carried`: columns passed through
    as they are (the agency, pseudonyms, the borough's name). -#}
{% macro generalised_to_k(source, levels, withheld, k, first_level_requires, key='dispatch_key',
                          carried=['agency']) -%}
{%- set last = levels | length %}
{%- set placed = 'level_after_' ~ (last - 1) %}
{#- column -> the SQL of its released value at the level held in `level_column` -#}
{%- set released_at = {} %}
{%- for column in withheld %}
    {%- set whens = [] %}
    {%- for level in levels %}
        {%- do whens.append('when ' ~ loop.index0 ~ ' then ' ~ level[column]) %}
    {%- endfor %}
    {%- do released_at.update({column: whens | join(' ')}) %}
{%- endfor %}
with

described as (
    select * from {{ source }}
),
{%- for level in levels %}
    {%- set i = loop.index0 %}
    {%- set previous = 'null::int' if i == 0 else 'level_after_' ~ (i - 1) %}
    {%- set partition = ['incident_month', 'borough_code'] + (level.values() | list) + [previous ~ ' is null'] %}
    {%- set required = 'true' %}
    {%- if i == 0 %}
        {%- do partition.append(first_level_requires ~ ' is null') %}
        {%- set required = first_level_requires ~ ' is not null' %}
    {%- endif %}

    placed_{{ i }} as (
        select
            *,
            case
                when {{ previous }} is not null then {{ previous }}
                when {{ required }} and count(*) over (partition by {{ partition | join(', ') }}) >= {{ k }}
                    then {{ i }}
            end as level_after_{{ i }}
        from {{ 'described' if i == 0 else 'placed_' ~ (i - 1) }}
    ),
{%- endfor %}

-- the groups as placed, and the records other groups can spare (those beyond their k-th)
ranked as (
    select
        *,
        count(*) filter (where {{ placed }} is null) over (partition by incident_month, borough_code)
            as unplaced_records,
        {{ placed }} is not null and row_number() over (
            partition by
                incident_month,
                borough_code,
                {{ placed }}
                {%- for column in withheld %},
                    case {{ placed }} {{ released_at[column] }} end
                {%- endfor %}
            order by {{ key }}
        ) > {{ k }} as is_spare,
        count(*) over (partition by incident_month, borough_code) < {{ k }} as is_withheld
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
            when {{ placed }} is null then {{ last }}
            -- too few to spare: the whole borough and month shares the last level
            when unplaced_records between 1 and {{ k - 1 }} and spare_records < {{ k }} - unplaced_records
                then {{ last }}
            when
                is_spare
                and unplaced_records between 1 and {{ k - 1 }}
                and row_number() over (
                    partition by incident_month, borough_code, is_spare
                    order by {{ placed }} desc, {{ key }}
                ) <= {{ k }} - unplaced_records
                then {{ last }}
            else {{ placed }}
        end as generalisation_level
    from counted
),

final as (
    select
        {{ key }},
        {%- for column in carried %}
        {{ column }},
        {%- endfor %}
        incident_month,
        borough_code,
        is_withheld,
        generalisation_level
        {%- for column in withheld %},
            case generalisation_level {{ released_at[column] }} else {{ withheld[column] }} end as {{ column }}
        {%- endfor %}
    from topped_up
)

select * from final
{%- endmacro %}
