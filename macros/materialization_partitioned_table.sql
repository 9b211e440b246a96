{#- The marts' materialization. A record-level relation whose YAML names meta.access.partition_columns is
    built list-partitioned by them (the columns its agreements restrict rows on: borough, then hospital site
    for A&E): one partition per value, one for NULL and an empty default, all in schema marts_partitions where
    no analyst may go. An organisation's query then plans and scans only its own partitions, so EXPLAIN
    ANALYZE, planner estimates and statistics never count rows outside its agreement, and the parent keeps
    no statistics of its own (docs/security.md). Every other relation is built as dbt's table
    materialization builds it. Like it, the new relation is built beside the old and swapped in one
    transaction, so readers see the previous build until the new one is whole. -#}
{% materialization partitioned_table, adapter='postgres' %}
  {%- set access = (config.get('meta') or {}).get('access') or {} -%}
  {%- set keys = access.get('partition_columns') or [] -%}
  {%- if not keys -%}
    {{ return(materialization_table_default()) }}
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
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
