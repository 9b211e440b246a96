{#- True when the existing materialized view was built from the given SQL: both as deparsed by
    PostgreSQL (pg_get_viewdef), the new SQL through a throw-away temporary view. -#}
{% macro materialized_view_definition_is_current(existing_relation, new_sql) %}
    {%- set existing_name = (
        adapter.quote(existing_relation.schema) ~ '.' ~ adapter.quote(existing_relation.identifier)
    ) -%}
    {%- set check_name = adapter.quote(existing_relation.identifier ~ '__dbt_definition_check') -%}
    {%- do run_query('create temporary view ' ~ check_name ~ ' as ' ~ new_sql) -%}
    {%- set comparison = run_query(
        "select pg_get_viewdef('" ~ existing_name ~ "'::regclass)"
        ~ " = pg_get_viewdef('pg_temp." ~ check_name ~ "'::regclass) as is_current"
    ) -%}
    {%- do run_query('drop view pg_temp.' ~ check_name) -%}
    {{ return(comparison.columns[0].values()[0]) }}
{% endmacro %}
