{#- The privacy boundary's materialization: a table of one raw dataset's rows (the model's name is the
    dataset's; config 'dataset' may name another), every row carrying the load it arrived in (load_id).

    A full build makes the table from every active load, beside the old one, and swaps it in. A refresh
    (var 'warehouse_fingerprint' given and equal to the one this table was last built under) rebuilds only
    the loads that changed since: loads now active that the table does not hold as they are (a new month, a
    late file for an old month, a re-issue), and loads it holds that are no longer active (superseded,
    withdrawn). Their rows are deleted and re-inserted from the model's SQL, filtered to those loads (the
    filter reaches raw through the staging view, whose BRIN index on _load_id reads only their blocks). When
    a dataset has cumulative publications, any change re-does its cumulative loads as well: which of their
    rows are current depends on the monthly loads beside them (monthly_beats_cumulative).

    Exact by construction: a row belongs to its load, whatever month its own date says. Which loads the table
    holds (every active load it was built from, a load whose rows were all rejected included), and under which
    fingerprint, is recorded in private.built_loads and private.built_models in the same transaction as the
    rows, so a failed or interrupted build leaves the record true; a load is known by its id and its file's
    checksum, so a raw table emptied and reloaded is never mistaken for the one built.
    Without the var, or under another fingerprint (the project's code, seeds or key changed), the build is
    full. Each load's record names the dbt invocation that inserted its rows: a refresh's row tests read only
    those (macros/get_where_subquery.sql). The months of the rows a build deleted and inserted (config
    month_column; every month after a full build or without it) go to private.changed_months, and their keys
    (config change_key, indexed: the tables after it look rows up by it) to private.changed_keys: the tables
    after it rebuild those months, and the months their rows with those keys lie in
    (macros/refresh_by_month.sql). -#}
{% materialization loads_table, adapter='postgres' %}
  {%- set dataset = config.get('dataset') or this.identifier -%}
  {%- set model_name = this.schema ~ '.' ~ this.identifier -%}
  {%- set loads = source('ingest', 'loads') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}

  {%- set incremental = refreshable_build(model_name) is not none -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if incremental -%}
    {%- set changed_sql -%}
      with
      active as (
          select load_id, sha256, coverage from {{ loads }}
          where dataset = '{{ dataset }}' and status = '{{ var("active_load_status") }}'
      ),
      built as (
          select load_id, sha256 from private.built_loads where model = '{{ model_name }}'
      ),
      changed as (
          ({{ loads_not_built(dataset, model_name) }})
          union
          (select load_id, sha256 from built except select load_id, sha256 from active)
      ),
      cumulative as (
          select load_id from active where coverage = 'cumulative'
          union
          select built.load_id from built
          inner join {{ loads }} as loads on built.load_id = loads.load_id
          where loads.coverage = 'cumulative'
      )
      select load_id from changed
      union
      select load_id from cumulative where exists (select from changed)
      order by 1
    {%- endset -%}
    {%- set changed = run_query(changed_sql).columns[0].values() | list -%}
    {#- the months and keys of the changed loads' rows, as they were and as they are (for the tables after it) -#}
    {%- set record_changes_sql = record_changed_rows(model_name, target_relation, in_loads('load_id', changed)) -%}
    {% call statement('main') -%}
      {%- if changed -%}
      {{ record_changes_sql }};
      delete from {{ target_relation }} where {{ in_loads('load_id', changed) }};
      delete from private.built_loads where model = '{{ model_name }}' and {{ in_loads('load_id', changed) }};
      insert into {{ target_relation }}
      select * from ({{ sql }}) as model_rows
      where {{ in_loads('load_id', changed) }};
      {{ record_built_loads(model_name, active_loads_of(dataset, in_loads('load_id', changed))) }};
      {{ record_changes_sql }};
      {%- else -%}
      select 'no load of {{ dataset }} changed'
      {%- endif %}
    {%- endcall %}
    {{ log("loads_table " ~ model_name ~ ": " ~ (changed | length) ~ " load(s) rebuilt " ~ changed, info=false) }}

  {%- else -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
    {% call statement('main') -%}
      create table {{ intermediate_relation }} as (
          {{ sql }}
      );
      {#- B-trees, not BRIN: a refresh deletes a re-issued load's rows and its next inserts fill the space they
          left, so a block range soon spans loads and months far apart (at ten years a BRIN read 22,000 blocks
          for one load's 2,000) -#}
      create index on {{ intermediate_relation }} (load_id);
      {%- if config.get('month_column') %}
      create index on {{ intermediate_relation }} ({{ config.get('month_column') }});
      {%- endif %}
      {%- if config.get('change_key') %}
      create index on {{ intermediate_relation }} ({{ config.get('change_key') }});
      {%- endif %}
      {%- for index in config.get('indexes') or [] %}
      create index on {{ intermediate_relation }} ({{ index.columns | join(', ') }});
      {%- endfor %}
      delete from private.built_loads where model = '{{ model_name }}';
      {{ record_built_loads(model_name, active_loads_of(dataset, 'true')) }};
      {{ record_changed_months(model_name) }};
    {%- endcall %}
    {% if existing_relation is not none %}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
  {%- endif %}

  {{ record_build(model_name, none, full_build=not incremental) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {% if not incremental %}
    {{ drop_relation_if_exists(make_backup_relation(target_relation, 'table')) }}
  {% endif %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
