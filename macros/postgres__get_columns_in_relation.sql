{#- dbt-postgres reads columns from information_schema.columns, which leaves out materialized views
    (dbt-labs/dbt-adapters#667, dbt-core#9419): staging is materialised as materialized views, and
    without their columns persist_docs skips the column comments and unit tests cannot mock staging.
    Same result as the adapter's macro, plus the columns of materialized views from pg_attribute. -#}
{% macro postgres__get_columns_in_relation(relation) -%}
    {%- set schema_name = relation.schema or '' -%}
    {% call statement('get_columns_in_relation', fetch_result=True) %}
    with

    table_and_view_columns as (
        select
            column_name,
            data_type,
            character_maximum_length,
            numeric_precision,
            numeric_scale,
            ordinal_position
        from {{ relation.information_schema('columns') }}
        where
            table_name = '{{ relation.identifier }}'
            and (table_schema = '{{ schema_name }}' or '{{ schema_name }}' = '')
    ),

    materialized_view_columns as (
        select
            pg_attribute.attname::text as column_name,
            format_type(pg_attribute.atttypid, null) as data_type,
            information_schema._pg_char_max_length(
                pg_attribute.atttypid, pg_attribute.atttypmod
            ) as character_maximum_length,
            information_schema._pg_numeric_precision(
                pg_attribute.atttypid, pg_attribute.atttypmod
            ) as numeric_precision,
            information_schema._pg_numeric_scale(
                pg_attribute.atttypid, pg_attribute.atttypmod
            ) as numeric_scale,
            pg_attribute.attnum as ordinal_position
        from pg_catalog.pg_attribute
        inner join pg_catalog.pg_class
            on pg_attribute.attrelid = pg_class.oid
        inner join pg_catalog.pg_namespace
            on pg_class.relnamespace = pg_namespace.oid
        where
            pg_class.relkind = 'm'
            and pg_class.relname = '{{ relation.identifier }}'
            and (pg_namespace.nspname = '{{ schema_name }}' or '{{ schema_name }}' = '')
            and pg_attribute.attnum > 0
            and not pg_attribute.attisdropped
    ),

    all_columns as (
        select * from table_and_view_columns
        union all
        select * from materialized_view_columns
    )

    select
        column_name,
        data_type,
        character_maximum_length,
        numeric_precision,
        numeric_scale
    from all_columns
    order by ordinal_position
    {% endcall %}
    {%- set table = load_result('get_columns_in_relation').table -%}
    {{ return(sql_convert_columns_in_relation(table)) }}
{%- endmacro %}
