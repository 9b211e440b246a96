{#- A snapshot refreshed by key: during a refresh it compares only the rows of the keys its source table changed
    since it last ran (the source records them: config change_key), with hard deletes left to
    snapshot_by_key_closed, which closes the current rows of keys gone from the source. Its record in
    private.built_models (fingerprint, position of the source's changes it has taken in) says what it holds;
    without it, under another fingerprint, outside a refresh, or after a whole build of the source, it compares
    every row. -#}

{#- The query of the keys `source_model` changed since the snapshot `snapshot_name` last ran, or none when the
    snapshot is to compare every row. Read as `key in (query)`, a semi-join, which the planner may answer from
    the key's index (snapshot_by_key_closed creates it) or by hashing the keys; `= any(array(query))` on a
    relation without that index would test every row against every key. -#}
{% macro snapshot_changed_keys(snapshot_name, source_model) -%}
    {%- set fingerprint = var('warehouse_fingerprint', none) -%}
    {%- if not execute or fingerprint is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set schema, identifier = snapshot_name.split('.') -%}
    {%- if adapter.get_relation(database=target.database, schema=schema, identifier=identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set built = run_query("select through_position from private.built_models where model = '" ~ snapshot_name
                              ~ "' and fingerprint = '" ~ fingerprint ~ "' and through_position is not null") -%}
    {%- if built.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set through = built.rows[0][0] -%}
    {%- set whole = run_query("select exists (select from private.changed_months where model = '" ~ source_model
                              ~ "' and all_months and position > " ~ through ~ ")").rows[0][0] -%}
    {{ return(none if whole else "select key from private.changed_keys where model = '" ~ source_model
                                 ~ "' and position > " ~ through) }}
{%- endmacro %}

{#- A snapshot's post-hook: close the current rows of the keys no longer in the model `source_name` (of the keys
    it changed, during a refresh), then record what the snapshot holds. The key is indexed, so that the next
    run's comparison and this closing look up the compared keys rather than read every current row, and so is
    the time dbt stamps each version with, by which a refresh's tests and leak scans find the versions it captured
    (refresh_rows_filter), and so is the id of each version, by which dbt closes the versions a run replaces. -#}
{% macro snapshot_by_key_closed(source_name, key) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                   | selectattr('name', 'equalto', source_name) | first -%}
    {%- set source = adapter.get_relation(database=node.database, schema=node.schema,
                                          identifier=node.alias or node.name) -%}
    {%- set snapshot_name = this.schema ~ '.' ~ this.identifier -%}
    {%- set source_model = source.schema ~ '.' ~ source.identifier -%}
    {%- set changed = snapshot_changed_keys(snapshot_name, source_model) -%}
    {%- set compared = 'true' if changed is none else 'snapshot.' ~ key ~ ' in (' ~ changed ~ ')' -%}
    create index if not exists {{ this.identifier }}_{{ key }} on {{ this }} ({{ key }});
    create index if not exists {{ this.identifier }}_dbt_updated_at on {{ this }} (dbt_updated_at);
    create index if not exists {{ this.identifier }}_dbt_scd_id on {{ this }} (dbt_scd_id);
    update {{ this }} as snapshot
    set dbt_valid_to = {{ snapshot_get_time() }}
    where
        snapshot.dbt_valid_to is null
        and {{ compared }}
        and not exists (
            select from {{ source }} as latest
            where latest.{{ key }} = snapshot.{{ key }}
        );
    {{ record_build_sql(snapshot_name, '(' ~ recorded_through_sql() ~ ')', changed is none) }}
{%- endmacro %}

{#- A snapshot's pre-hook: record when its run began (private.rebuilt_rows, key_column dbt_updated_at), no later
    than the time dbt stamps the versions it captures with (its transaction's time: now() is that time in the same
    transaction, or an earlier one's), so that a refresh's tests and leak scans read those versions only
    (refresh_rows_filter). -#}
{% macro snapshot_run_started() -%}
    {%- set snapshot_name = this.schema ~ '.' ~ this.identifier -%}
    delete from private.rebuilt_rows where model = '{{ snapshot_name }}';
    insert into private.rebuilt_rows (model, invocation_id, key_column, key)
    values ('{{ snapshot_name }}', '{{ invocation_id }}', 'dbt_updated_at', now()::timestamp::text)
{%- endmacro %}

{#- dbt's snapshot staging query, with its current rows read only for the keys the source gives. dbt compares
    the source with every current row of the snapshot (a CTE it reads twice, so PostgreSQL writes all of them out:
    6 million rows, 2 GB, 11 s at ten years of outcomes) although with hard deletes ignored a current row whose key
    is not in the source changes nothing. Reading them by the source's keys (snapshot_query; the key is indexed,
    snapshot_by_key_closed) makes the comparison cost follow what the refresh changed. Only for a snapshot with
    `hard_deletes: ignore`; a dbt whose query no longer has that CTE fails the build here rather than compare
    every row unnoticed. -#}
{% macro postgres__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- set staging = default__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- if strategy.hard_deletes != 'ignore' -%}
        {{ return(staging) }}
    {%- endif -%}
    {%- set key = config.get('unique_key') -%}
    {%- if key is not string -%}
        {{ exceptions.raise_compiler_error("snapshot_staging_table: one unique_key column expected, got " ~ key) }}
    {%- endif -%}
    {%- set current_rows = modules.re.compile('(snapshotted_data as \\(\\s*select .*? from )'
                                              ~ modules.re.escape(target_relation | string), modules.re.S) -%}
    {%- if not current_rows.search(staging) -%}
        {{ exceptions.raise_compiler_error("snapshot_staging_table: dbt's staging query has no snapshotted_data"
                                           ~ " CTE reading " ~ target_relation) }}
    {%- endif -%}
    {%- set compared = '(select * from ' ~ target_relation ~ ' where ' ~ adapter.quote(key)
                       ~ ' in (select ' ~ adapter.quote(key) ~ ' from snapshot_query)) as compared_rows' -%}
    {{ return(current_rows.sub('\\g<1>' ~ compared | replace('\\', '\\\\'), staging, count=1)) }}
{%- endmacro %}
