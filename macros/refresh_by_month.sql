{#- A table after the privacy boundary whose config names month_column is refreshed month by month
    (macros/materialization_partitioned_table.sql): it rebuilds the months its upstream tables recorded as
    changed in private.changed_months since it was last built. Those upstream tables are the nearest
    load-by-load tables (macros/materialization_loads_table.sql) and month-by-month tables it reads, through
    views only; the months each records are those of the rows it deleted and inserted, so the rule holds when
    a row of one month depends only on rows of the same month in every upstream table (a row in month m is
    rebuilt whenever anything it reads in month m changed). A table that reads rows of other months by a key
    names the source in config months_by_key; a month-by-month table with config change_key records the keys
    of the rows a refresh changed, as a load-by-load table does. A table rebuilt whole with config
    month_source 'whole' (reference data such as dim_geography) may be read too: a build that changes its rows
    records every month as changed (macros/materialization_partitioned_table.sql), so the tables after it are
    then built whole. -#}

{#- The tables whose changed months `node` (a graph node) rebuilds, as schema.identifier; a compilation error
    when it reads rows that would change without a recorded month: a raw source, or a table that is
    neither load-by-load nor month-by-month but is built from one (seeds and tables built only from seeds
    change only with the project, which makes every build full), unless that table records its own changes
    (config month_source 'whole'). -#}
{% macro month_sources(node, through_table=false) -%}
    {%- set sources = [] -%}
    {%- for uid in node.depends_on.nodes -%}
        {%- set upstream = graph.nodes.get(uid) -%}
        {%- if uid.startswith('source.') -%}
            {{ exceptions.raise_compiler_error(model.unique_id ~ " has month_column but reads " ~ uid
                ~ " directly: its rows change without a recorded month") }}
        {%- elif upstream is none or upstream.resource_type == 'seed' -%}
        {%- elif upstream.config.get('month_source') == 'whole' -%}
            {%- do sources.append(upstream.schema ~ '.' ~ (upstream.alias or upstream.name)) -%}
        {%- elif upstream.config.materialized == 'loads_table' or upstream.config.get('month_column') -%}
            {%- if through_table -%}
                {{ exceptions.raise_compiler_error(model.unique_id ~ " has month_column but reads "
                    ~ upstream.name ~ " through a table rebuilt whole") }}
            {%- endif -%}
            {%- do sources.append(upstream.schema ~ '.' ~ (upstream.alias or upstream.name)) -%}
        {%- else -%}
            {%- set rebuilt_whole = upstream.config.materialized not in ('view', 'ephemeral') -%}
            {%- do sources.extend(month_sources(upstream, through_table or rebuilt_whole)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(sources | unique | list) }}
{%- endmacro %}

{#- The tables whose recorded changes `node` (this model, a graph node) rebuilds: month_sources, or, for a
    published aggregate (config months_from_release: a copy of what the release published, read from the
    release schema outside the project's models: macros/published_aggregate.sql), the months the release
    recorded as published under release.<name> (safestats.sdc.release). Its candidate's changed months would not
    do: a month held back by one release and published by a later one changed in neither refresh. -#}
{% macro refresh_sources(node) -%}
    {%- if node.config.get('months_from_release') -%}
        {{ return([var('sdc_release_schema') ~ '.' ~ (node.alias or node.name)]) }}
    {%- endif -%}
    {{ return(month_sources(node)) }}
{%- endmacro %}

{#- What a refresh of this model must rebuild: {'months': [...], 'null_month': bool, 'all_months': bool,
    'through': position} from what `sources` recorded after the position it was built through. A source
    named in config months_by_key (model name -> this table's key column) reaches it by key as well as by
    month: the months rebuilt for it add those of this table's rows whose key the source changed (the MPS
    victims' and perpetrators' generalisation, whose k-groups span a month). A table whose rows each depend
    only on their own key's rows in such a source (config rows_by_key: a crime's latest row, a street crime
    with its crime's latest outcome) rebuilds the rows of those keys instead, wherever they lie and wherever
    they move (when a key's latest row is withdrawn, its row goes back to the month of the row before, which
    nothing recorded as changed), and none of that source's months: 'keyed' lists the sources whose changed
    keys it rebuilds (refresh_keys_condition); a full build of one still builds the table whole. -#}
{% macro months_to_refresh(sources, through) -%}
    {%- set rows_by_key = config.get('rows_by_key') -%}
    {%- set by_key = {} if rows_by_key else (config.get('months_by_key') or {}) -%}
    {%- set month_column = config.get('month_column') -%}
    {#- with rows_by_key, a source read by key reaches this table by key alone: none of its months is rebuilt -#}
    {%- set keyed_sources = [] -%}
    {%- for source in sources if rows_by_key and source.split('.')[1] in (config.get('months_by_key') or {}) -%}
        {%- do keyed_sources.append(source) -%}
    {%- endfor -%}
    {%- set by_month = sources | reject('in', keyed_sources) | list -%}
    {%- set query -%}
        with
        recorded as (
            select month, all_months, position from private.changed_months
            where
                (model in ('{{ by_month | join("', '") }}')
                 or (model in ('{{ keyed_sources | join("', '") }}') and all_months))
                and position > {{ through }}
        ),
        keyed_months as (
            select null::date as month, false as all_months, null::bigint as position where false
            {%- for source in sources if source.split('.')[1] in by_key %}
            union all
            select distinct {{ month_column }}, false, null::bigint from {{ this }}
            where {{ by_key[source.split('.')[1]] }} in (
                select key from private.changed_keys where model = '{{ source }}' and position > {{ through }}
            )
            {%- endfor %}
        ),
        changes as (
            select * from recorded
            union all
            select * from keyed_months
        )
        select
            coalesce(string_agg(distinct month::text, ',') filter (where month is not null), ''),
            coalesce(bool_or(month is null and not all_months), false),
            coalesce(bool_or(all_months), false),
            ({{ recorded_through_sql() }})
        from changes
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set keyed = [] -%}
    {%- for source in keyed_sources -%}
        {%- if run_query("select exists (select from private.changed_keys where model = '" ~ source
                         ~ "' and position > " ~ through ~ ")").rows[0][0] -%}
            {%- do keyed.append({'source': source, 'column': config.get('months_by_key')[source.split('.')[1]],
                                 'after': through}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'months': (row[0].split(',') if row[0] else []) | sort, 'null_month': row[1],
               'all_months': row[2], 'through': [row[3], through] | max, 'keyed': keyed}) }}
{%- endmacro %}

{#- The SQL condition that a row's key is one a source listed in `refresh.keyed` changed (none when none is).
    The keys are read once into an array (`= any(array(...))`), so that even beside the month condition (`or`)
    the planner looks them up in the key's index rather than testing every row against a subquery: the key
    is indexed in this table (record_full_build) and in the source it reads by it (a change_key or an index). -#}
{% macro refresh_keys_condition(refresh) -%}
    {%- set conditions = [] -%}
    {%- for keyed in refresh.get('keyed') or [] -%}
        {%- do conditions.append(keyed.column ~ " = any(array(select key from private.changed_keys where model = '"
                                 ~ keyed.source ~ "' and position > " ~ keyed.after ~ "))") -%}
    {%- endfor -%}
    {{ return(('(' ~ (conditions | join(' or ')) ~ ')') if conditions else none) }}
{%- endmacro %}

{#- The position through which everything has been recorded that a table built now has read: the last position the
    recording sequence gave, whichever table it went to (0 before any). A table's sources have all committed
    before it is built (dbt builds in dependency order), and whatever they record later is numbered after it, so
    a table built through this position misses none of their changes. A position given to a table it does not
    read, even one not yet committed, is nothing to it. Reading the sequence rather than the largest position each
    source recorded lets a table whose sources recorded nothing for a while move forward with the others, so the
    changes every table has read are pruned (record_build_sql): held back by a table whose sources last changed
    years before, private.changed_keys grew to 2.9 million keys, 591 MB, at ten years. -#}
{% macro recorded_through_sql() -%}
    select case when is_called then last_value else 0 end from private.changed_months_position_seq
{%- endmacro %}

{#- The position through which everything has been recorded (recorded_through_sql). -#}
{% macro months_recorded_through() -%}
    {{ return(run_query(recorded_through_sql()).rows[0][0]) }}
{%- endmacro %}

{#- Record that `model_name` changed the rows of the months `months_sql` (a query of months) returns, or, with
    months_sql none, every month (a full build). -#}
{% macro record_changed_months(model_name, months_sql=none) -%}
    {%- if months_sql is none -%}
    insert into private.changed_months (model, all_months, invocation_id)
    values ('{{ model_name }}', true, '{{ invocation_id }}')
    {%- else -%}
    insert into private.changed_months (model, month, invocation_id)
    select distinct '{{ model_name }}', changed_month, '{{ invocation_id }}'
    from ({{ months_sql }}) as changed (changed_month)
    {%- endif -%}
{%- endmacro %}

{#- Record, for the tables after this load-by-load table `model_name`, the months (config month_column; every
    month without it) and keys (config change_key) of the rows of `relation` that `row_filter` selects: run
    before its changed loads are deleted and after they are inserted again. -#}
{% macro record_changed_rows(model_name, relation, row_filter) -%}
    {%- set month_column = config.get('month_column') -%}
    {{ record_changed_months(model_name, none if month_column is none else
                             'select ' ~ month_column ~ ' from ' ~ relation ~ ' where ' ~ row_filter) }}
    {%- if config.get('change_key') %};
    {{ record_changed_keys(model_name, 'select ' ~ config.get('change_key') ~ ' from ' ~ relation
                                       ~ ' where ' ~ row_filter) }}
    {%- endif -%}
{%- endmacro %}

{#- Record what a refresh by key of `model_name` rebuilt in this invocation (private.rebuilt_rows): the months of
    `refresh` it rebuilt whole, and the keys of the rows in `rows` (the rebuilt rows) outside them with each
    row's month, for this invocation's tests and leak scans (refresh_rows_filter). -#}
{% macro record_rebuilt_rows(model_name, refresh, rows) -%}
    {%- set month_column = config.get('month_column') -%}
    delete from private.rebuilt_rows where model = '{{ model_name }}';
    insert into private.rebuilt_rows (model, invocation_id, month, key_column, key)
    select '{{ model_name }}', '{{ invocation_id }}', rebuilt_month, null, null
    from unnest({{ months_array(refresh) }}) as rebuilt (rebuilt_month)
    {%- if refresh.null_month %}
    union all
    select '{{ model_name }}', '{{ invocation_id }}', null, null, null
    {%- endif %}
    {%- for column in refresh.keyed | map(attribute='column') | unique %}
    union all
    select distinct '{{ model_name }}', '{{ invocation_id }}', {{ month_column }}, '{{ column }}', {{ column }}::text
    from {{ rows }}
    where {{ column }} is not null and not coalesce({{ in_months(month_column, refresh) }}, false)
    {%- endfor %};
    -- the scans join these keys: planned on the statistics of a table that held none, they would be looked up
    -- one by one in every partition
    analyze private.rebuilt_rows
{%- endmacro %}

{#- Record the keys of the rows `keys_sql` (a query of one column) returns as changed by `model_name`. -#}
{% macro record_changed_keys(model_name, keys_sql) -%}
    insert into private.changed_keys (model, key)
    select distinct '{{ model_name }}', changed_key::text from ({{ keys_sql }}) as changed (changed_key)
    where changed_key is not null
{%- endmacro %}

{#- The keys (config change_key) of the rows that differ between `relation`'s rows where `row_filter` holds and
    the rows `rows` rebuilt in their place: a query of one column. -#}
{% macro changed_rows_keys(relation, rows, row_filter) -%}
    {%- set key = config.get('change_key') -%}
    select {{ key }} from (
        (select * from {{ relation }} where {{ row_filter }} except all select * from {{ rows }})
        union all
        (select * from {{ rows }} except all select * from {{ relation }} where {{ row_filter }})
    ) as changed_rows
{%- endmacro %}

{#- The months `refresh` (months_to_refresh) rebuilds other than NULL, as an SQL array. -#}
{% macro months_array(refresh) -%}
    array[{{ "'" ~ (refresh.months | join("', '")) ~ "'" if refresh.months else "" }}]::date[]
{%- endmacro %}

{#- The SQL condition that a row's `column` is in the months `refresh` (months_to_refresh) rebuilds. -#}
{% macro in_months(column, refresh) -%}
    ({{ column }} = any({{ months_array(refresh) }})
    {%- if refresh.null_month %} or {{ column }} is null{% endif %})
{%- endmacro %}

{#- During a refresh, the row of private.built_models (fingerprint, through_position) of `model_name` (this
    model) when it may be refreshed rather than built whole: the var 'warehouse_fingerprint' is set and equal
    to the one it was last built under, it exists as a table and no full refresh was asked for; else none. -#}
{% macro refreshable_build(model_name) -%}
    {%- set fingerprint = var('warehouse_fingerprint', none) -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if fingerprint is none or existing_relation is none or existing_relation.type != 'table'
           or should_full_refresh() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set built = run_query("select fingerprint, through_position from private.built_models where model = '"
                              ~ model_name ~ "'") -%}
    {{ return(built.rows[0] if built.rows | length == 1 and built.rows[0][0] == fingerprint else none) }}
{%- endmacro %}

{#- During a refresh, what `model_name` (built from the tables `sources`) must rebuild (months_to_refresh), or
    none when it is to be built whole: outside a refresh, when it was built under another fingerprint or never,
    and when an upstream table was built whole since. -#}
{% macro refresh_by_month_plan(model_name, sources) -%}
    {%- set built = refreshable_build(model_name) -%}
    {%- if built is none or built[1] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set refresh = months_to_refresh(sources, built[1]) -%}
    {{ return(none if refresh.all_months else refresh) }}
{%- endmacro %}

{#- Rebuild the months of `refresh` in `model_name` (this model) in one transaction: its rows of those months
    deleted and inserted again from the model's SQL (the month filter reaches the upstream tables), a partition
    added for any new value of the partition `keys`, the months recorded as changed for the tables after it. -#}
{% macro refresh_by_month(model_name, refresh, keys) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set month_column = config.get('month_column') -%}
  {%- set rows = adapter.quote(target_relation.identifier ~ '__rows') -%}
  {%- set by_key = refresh_keys_condition(refresh) -%}
  {%- set rebuilt = refresh.months or refresh.null_month or by_key -%}
  {%- set rebuilt_rows = in_months(month_column, refresh) ~ (' or ' ~ by_key if by_key else '') -%}
  {#- config keyed_rows_in_place: a changed key changes values in its rows, never which rows there are nor their
      month or partition (fct_street_crimes: a street crime's latest outcome), so its rows before are where its
      rows rebuilt are, and are deleted partition by partition (private.delete_keyed_rows) -#}
  {%- set in_place = by_key and config.get('keyed_rows_in_place') -%}
  {%- set keyed_rows = 'not coalesce(' ~ in_months(month_column, refresh) ~ ', false)' -%}
  {#- the months of the rows deleted (read from the delete itself: the keyed rows are looked up once, in every
      partition; in place, they are the months of the rows rebuilt) and inserted -#}
  {%- set rebuilt_months = "select unnest(" ~ months_array(refresh) ~ ")"
                           ~ (" union all select null::date" if refresh.null_month else "")
                           ~ (" union all select " ~ month_column ~ " from deleted" if by_key and not in_place else "")
                           ~ (" union all select " ~ month_column ~ " from " ~ rows if by_key else "") -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% call statement('main') -%}
    {%- if rebuilt %}
    create temporary table {{ rows }} on commit drop as (
        select * from ({{ sql }}) as model_rows
        where {{ in_months(month_column, refresh) }}
        {%- if by_key %}
        union all
        -- the rows of the changed keys outside those months, each looked up by its key
        select * from ({{ sql }}) as model_rows
        where {{ by_key }} and {{ keyed_rows }}
        {%- endif %}
    );
    {%- if keys %}
    select private.add_list_partitions(
        '{{ target_relation.schema }}', '{{ target_relation.identifier }}', '{{ target_relation.identifier }}',
        '{{ invocation_id[:8] }}', array['{{ keys | join("', '") }}'], '{{ rows }}'
    );
    {%- endif %}
    {%- if config.get('change_key') %}
    {{ record_changed_keys(model_name, changed_rows_keys(target_relation, rows, rebuilt_rows)) }};
    {%- endif %}
    {%- if by_key %}
    {{ record_rebuilt_rows(model_name, refresh, rows) }};
    {%- endif %}
    {%- if in_place %}
    {%- for column in refresh.keyed | map(attribute='column') | unique %}
    select private.delete_keyed_rows(
        '{{ target_relation }}', '{{ rows }}', {{ "'" ~ keys[0] ~ "'" if keys else 'null' }}, '{{ column }}',
        '{{ keyed_rows | replace("'", "''") }}'
    );
    {%- endfor %}
    {%- endif %}
    with deleted as (
        delete from {{ target_relation }} where {{ in_months(month_column, refresh) if in_place else rebuilt_rows }}
        {%- if by_key and not in_place %}
        returning {{ month_column }}
        {%- endif %}
    )
    {{ record_changed_months(model_name, rebuilt_months) }};
    insert into {{ target_relation }} select * from {{ rows }};
    {%- else %}
    select 'no month of {{ model_name }} changed'
    {%- endif %}
  {%- endcall %}
  {{ record_build(model_name, refresh.through, full_build=false) }}
  {{ log("refresh_by_month " ~ model_name ~ ": " ~ (refresh.months | length) ~ " month(s) rebuilt "
         ~ refresh.months ~ (" and rows of no month" if refresh.null_month else "")
         ~ (" and the rows of the keys " ~ (refresh.keyed | map(attribute='source') | join(', ')) ~ " changed"
            if by_key else ""), info=false) }}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{%- endmacro %}

{#- Record, after a whole build of `model_name` has committed, that it holds every month its sources recorded
    up to `through`, and that every month of it changed. Recorded after the rows, so an interruption between
    leaves the record behind the table (the next refresh rebuilds months it already holds), never ahead. The
    month column is indexed first (on a partitioned table, every partition, new ones included): a refresh
    deletes, compares and reads this table month by month; so is the key of a table with rows_by_key. -#}
{% macro record_full_build(model_name, through) -%}
  {{ record_build(model_name, through, full_build=true) }}
  {% call statement('record_full_build') -%}
    create index on {{ this }} ({{ config.get('month_column') }});
    {%- set indexed = (config.get('indexes') or []) | map(attribute='columns') | list %}
    {%- for column in (config.get('months_by_key') or {}).values() | unique
            if config.get('rows_by_key') and [column] not in indexed %}
    create index on {{ this }} ({{ column }});
    {%- endfor %}
    {{ record_changed_months(model_name) }}
  {%- endcall %}
  {{ adapter.commit() }}
{%- endmacro %}

{#- Upsert `model_name`'s row of private.built_models: the fingerprint it was built under, the position of the
    sources' recorded months it holds (none for a load-by-load table), and whether the build was whole. -#}
{% macro record_build(model_name, through, full_build) -%}
  {% call statement('record_build_' ~ model_name) -%}
    {{ record_build_sql(model_name, through, full_build) }}
  {%- endcall %}
{%- endmacro %}

{#- The SQL of record_build (also a snapshot's post-hook: macros/snapshot_by_key.sql); `through` may be a
    parenthesised query. -#}
{% macro record_build_sql(model_name, through, full_build) -%}
    {%- set fingerprint = var('warehouse_fingerprint', none) -%}
    insert into private.built_models (model, fingerprint, built_at, full_build, through_position)
    values ('{{ model_name }}', {{ "'" ~ fingerprint ~ "'" if fingerprint is not none else "null" }}, now(),
            {{ full_build }}, {{ 'null' if through is none else through }})
    on conflict (model) do update
    set fingerprint = excluded.fingerprint, built_at = excluded.built_at, full_build = excluded.full_build,
        through_position = excluded.through_position
    {%- if through is not none %};
    {#- what every table refreshed month by month has read is needed no more (this build's own months stay
        for its row tests: get_where_subquery) #}
    delete from private.changed_keys
    where position <= (select min(through_position) from private.built_models);
    delete from private.changed_months
    where position <= (select min(through_position) from private.built_models)
        and invocation_id is distinct from '{{ invocation_id }}'
    {%- endif %}
{%- endmacro %}
