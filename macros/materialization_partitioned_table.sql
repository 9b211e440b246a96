{#- The marts' materialization. A record-level relation whose YAML names meta.access.partition_columns is
    built list-partitioned by them (the columns its agreements restrict rows on: borough, then hospital site
    for A&E): one partition per value, one for NULL and an empty default, all in schema marts_partitions where
    no analyst may go. An organisation's query then plans and scans only its own partitions, so EXPLAIN
    ANALYZE, planner estimates and statistics never count rows outside its agreement, and the parent keeps
    no statistics of its own (docs/security.md). Every other relation is built as dbt's table
    materialization builds it. Like it, the new relation is built beside the old and swapped in one
    transaction, so readers see the previous build until the new one is whole.

    A relation whose config names month_column is refreshed month by month (macros/refresh_by_month.sql):
    during a refresh (var 'warehouse_fingerprint' equal to the one it was built under) it deletes and
    re-inserts, in one transaction, only the months its upstream tables changed since it was last built,
    adding a partition for any new key value; without the var, under another fingerprint, or after an
    upstream full build, it is built whole. Either way it records what it rebuilt for the tables after it.

    A plain table with config month_source 'whole' (reference data the month-by-month tables read, such as
    dim_geography) is rebuilt whole every build; when its rows differ from the previous build's it records
    every month as changed, so the month-by-month tables that read it are built whole next. -#}
{% materialization partitioned_table, adapter='postgres' %}
  {%- set access = (config.get('meta') or {}).get('access') or {} -%}
  {%- set keys = access.get('partition_columns') or [] -%}
  {%- set month_column = config.get('month_column') -%}
  {%- if month_column -%}
    {%- set model_name = this.schema ~ '.' ~ this.identifier -%}
    {%- set sources = refresh_sources(model) -%}
    {%- set refresh = refresh_by_month_plan(model_name, sources) -%}
    {%- if refresh is not none -%}
      {{ return(refresh_by_month(model_name, refresh, keys)) }}
    {%- endif -%}
    {%- set through = months_recorded_through() -%}
  {%- endif -%}
  {%- if not keys -%}
    {%- set before = whole_table_digest() -%}
    {%- set built = materialization_table_default() -%}
    {%- if month_column -%}{% do record_full_build(model_name, through) %}{%- endif -%}
    {%- do record_whole_table_change(before) -%}
    {{ return(built) }}
  {%- endif -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {%- set rows = adapter.quote(target_relation.identifier ~ '__rows') -%}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    create temporary table {{ rows }} on commit drop as (
        {{ sql }}
    );
    create table {{ intermediate_relation }} (like {{ rows }}) partition by list ({{ adapter.quote(keys[0]) }});
    select private.create_list_partitions(
        '{{ intermediate_relation.schema }}', '{{ intermediate_relation.identifier }}',
        '{{ target_relation.identifier }}', '{{ invocation_id[:8] }}',
        array['{{ keys | join("', '") }}'], '{{ rows }}'
    );
    insert into {{ intermediate_relation }} select * from {{ rows }};
  {%- endcall %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {%- if month_column -%}{% do record_full_build(model_name, through) %}{%- endif -%}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- For a table with config month_source 'whole': a digest of its rows as they are (none when it does not exist
    yet or has no such config). Its rows are few (reference data); order does not matter. -#}
{% macro whole_table_digest() -%}
  {%- if config.get('month_source') != 'whole' or load_cached_relation(this) is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set digest = run_query("select count(*)::text || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0)::text"
                             ~ " || ':' || coalesce(sum(hashtextextended(t::text, 1)), 0)::text from "
                             ~ this ~ " as t") -%}
  {{ return(digest.columns[0].values()[0]) }}
{%- endmacro %}

{#- After a build of a table with config month_source 'whole': record every month as changed when its rows
    differ from `before` (whole_table_digest before the build; none for a first build). -#}
{% macro record_whole_table_change(before) -%}
  {%- if config.get('month_source') != 'whole' -%}
    {{ return('') }}
  {%- endif -%}
  {%- if before is none or whole_table_digest() != before -%}
    {% call statement('record_whole_table_change') -%}
      {{ record_changed_months(this.schema ~ '.' ~ this.identifier) }}
    {%- endcall %}
    {{ adapter.commit() }}
  {%- endif -%}
{%- endmacro %}
