{#- A marts aggregate is what was last published: the months of its candidate (schema disclosure) that
    passed `safestats sdc check` were copied into release.<name>, and only those are read here. Until a
    first release there is nothing to read: the relation is empty, shaped like its candidate. -#}
{% macro published_aggregate(candidate) -%}
{%- set candidate_relation = ref(candidate) -%}
{%- set store = none -%}
{%- if execute -%}
    {%- set store = adapter.get_relation(
        database=target.database, schema=var('sdc_release_schema'), identifier=candidate_relation.identifier) -%}
{%- endif -%}
{%- if store is not none -%}
    {%- set columns = adapter.get_columns_in_relation(candidate_relation) | map(attribute='name') | list -%}
with

published as (
    select * from {{ store }}
),

final as (
    select {{ columns | join(', ') }}
    from published
)

select * from final
{%- else -%}
with

candidate as (
    select * from {{ candidate_relation }}
),

final as (
    select * from candidate
    where false
)

select * from final
{%- endif %}
{%- endmacro %}
