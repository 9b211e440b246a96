{#- The rows a refresh rebuilt in a relation, for the tests and leak scans that read only what a refresh changed:
    what it did not rebuild was read when it was built, by the same code (a refresh runs only under the
    fingerprint its tables were built under; any change to code, seeds or key makes the build full).

    refresh_rows_filter(relation) is a SQL condition on the relation's rows, or none for every row:
    - a table rebuilt load by load past the privacy boundary (macros/materialization_loads_table.sql), or the
      staging view it is built from: the loads this dbt invocation (re)inserted (refresh_changed_loads);
    - a table refreshed month by month (a partitioned_table model with config month_column): the months this
      invocation rebuilt in it (for one refreshed by key, config rows_by_key, every month a rebuilt row lies
      in; the leak scans read only the rows it rebuilt: rebuilt_rows_query);
    - a snapshot: the versions this invocation's run of it captured (snapshot_rows_filter);
    - a view over tables refreshed by load or by month, on a month column it shares with them (the categorised
      recorded crimes and dispatches), or on the column its config refresh_month_column names (the categorised
      people, whose incident_month is their table's recorded_month): the months this invocation changed in
      those tables;
    - none outside a refresh (var 'warehouse_fingerprint' unset), at parse time, after a full build of the
      relation, and for any other relation (rebuilt whole, or a view whose months are unknown). -#}
{% macro refresh_rows_filter(relation) -%}
    {%- if not execute or var('warehouse_fingerprint', none) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set loads_table = refreshed_loads_table(relation) -%}
    {%- if loads_table -%}
        {%- set loads = refresh_changed_loads(loads_table) -%}
        {{ return(none if loads is none else in_loads('load_id', loads)) }}
    {%- endif -%}
    {%- if relation.schema == 'snapshots' -%}
        {{ return(snapshot_rows_filter(relation)) }}
    {%- endif -%}
    {%- set refreshed = refreshed_month_tables(relation) -%}
    {%- if refreshed -%}
        {%- set condition = refresh_changed_months_filter(refreshed.models, refreshed.month_column) -%}
        {{ return(none if condition == 'true' else condition) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The load-by-load table whose loads a relation's rows are: the table itself (schema suppressed), or the table
    a staging view stg_<source>__<thing> is built into (suppressed.<source>_<thing>: one name per dataset).
    refresh_changed_loads answers none (every load) for a suppressed table not built load by load. -#}
{% macro refreshed_loads_table(relation) -%}
    {%- if relation.schema == 'suppressed' -%}
        {{ return('suppressed.' ~ relation.identifier) }}
    {%- elif relation.schema == 'staging' and relation.identifier.startswith('stg_') -%}
        {{ return('suppressed.' ~ relation.identifier[4:].replace('__', '_')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The tables whose changed months are a relation's rebuilt rows, as {'models': ['<schema>.<name>', ...],
    'month_column': ...}, or none: the relation itself when it is a table refreshed month by month; for a view,
    the tables it reads that record the months they change (refreshed by load or by month: built before the
    view's tests run), on a month column the view has too, or, when its config names refresh_month_column (a
    month column under another name), all of them on that column. -#}
{% macro refreshed_month_tables(relation) -%}
    {%- set found = {'models': [], 'month_column': none} -%}
    {%- set node = model_node(relation) -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if node.config.materialized == 'partitioned_table' and node.config.get('month_column') -%}
        {%- do found.update({'models': [relation.schema ~ '.' ~ relation.identifier],
                             'month_column': node.config.get('month_column')}) -%}
    {%- elif node.config.materialized == 'view' -%}
        {%- set declared = node.config.get('refresh_month_column') -%}
        {%- set view_columns = [] if declared else
                adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- for parent_id in node.depends_on.nodes if parent_id in graph.nodes -%}
            {%- set parent = graph.nodes[parent_id] -%}
            {%- set parent_month = parent.config.get('month_column') -%}
            {%- if parent.config.materialized in ['partitioned_table', 'loads_table'] and parent_month
                    and (declared or (parent_month in view_columns
                                      and found.month_column in [none, parent_month])) -%}
                {%- do found.models.append(parent.schema ~ '.' ~ (parent.alias or parent.name)) -%}
                {%- do found.update({'month_column': declared or parent_month}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found if found.models else none) }}
{%- endmacro %}

{#- The SQL condition that a row's `month_column` is a month this dbt invocation rebuilt in any of `model_names`
    (tables refreshed month by month), as they recorded in private.changed_months: true when one was built in
    full, false when none was rebuilt, else the months as a literal list the planner takes to the month's index
    (a test is compiled when it runs, after its tables were built). -#}
{% macro refresh_changed_months_filter(model_names, month_column) -%}
    {%- if not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set recorded = run_query("select distinct month::text, all_months from private.changed_months"
                                 ~ " where model in ('" ~ (model_names | join("', '")) ~ "')"
                                 ~ " and invocation_id = '" ~ invocation_id ~ "' order by 1") -%}
    {%- set months = [] -%}
    {%- set null_month = [] -%}
    {%- for row in recorded.rows -%}
        {%- if row[1] -%}
            {{ return('true') }}
        {%- elif row[0] is none -%}
            {%- do null_month.append(true) -%}
        {%- else -%}
            {%- do months.append("'" ~ row[0] ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('(' ~ month_column ~ ' = any(array[' ~ (months | join(', ')) ~ ']::date[])'
              ~ (' or ' ~ month_column ~ ' is null' if null_month else '') ~ ')') }}
{%- endmacro %}

{#- The SQL condition that a raw row of `raw_relation` (a source table, one dataset's rows from every load) is of a
    load a refresh rebuilt into the dataset's table past the privacy boundary: the raw values a refresh's leak
    scans look for (the values of other loads were looked for when their rows were built). True outside a
    refresh, and for a dataset not built load by load. -#}
{% macro refresh_raw_rows_filter(raw_relation, load_column='_load_id') -%}
    {{ return(in_loads(load_column, refresh_changed_loads('suppressed.' ~ raw_relation.identifier))) }}
{%- endmacro %}

{#- For a table refreshed by key (config rows_by_key) that this invocation refreshed by key: a query of exactly the
    rows it rebuilt, those of the months it rebuilt whole and those of the keys it rebuilt outside them, as it
    recorded (macros/refresh_by_month.sql, record_rebuilt_rows); none otherwise. For the leak scans, whose cost is
    per row read: a new month of outcomes moves crimes of a year of months, and every row of those months is
    many times the rows of the crimes that moved. A key's rows are found by the months they lie in (the month's
    index) and then the key, as a semi-join: private.rebuilt_rows is indexed by key, and looking each key up in
    the table's own key index would probe every partition of a table partitioned by borough once per key. -#}
{% macro rebuilt_rows_query(relation) -%}
    {%- if not execute or var('warehouse_fingerprint', none) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = model_node(relation) -%}
    {%- if node is none or not node.config.get('rows_by_key') or not node.config.get('month_column') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set month_column = node.config.get('month_column') -%}
    {%- set recorded = "from private.rebuilt_rows where model = '" ~ relation.schema ~ '.' ~ relation.identifier
                       ~ "' and invocation_id = '" ~ invocation_id ~ "'" -%}
    {%- set groups = run_query("select coalesce(key_column, ''), coalesce(string_agg(distinct month::text, ','), ''),"
                               ~ " bool_or(month is null) " ~ recorded ~ " group by 1 order by 1").rows -%}
    {%- if groups | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set whole = {'months': "false"} -%}
    {%- set queries = [] -%}
    {%- for key_column, months, null_month in groups -%}
        {%- set rows_months = in_months(month_column, {'months': months.split(',') if months else [],
                                                       'null_month': null_month}) -%}
        {%- if key_column == '' -%}
            {%- do whole.update({'months': rows_months}) -%}
            {%- do queries.append('select * from ' ~ relation ~ ' where ' ~ rows_months) -%}
        {%- else -%}
            {%- do queries.append('select * from ' ~ relation ~ ' where ' ~ rows_months ~ ' and not coalesce('
                                  ~ whole.months ~ ', false) and ' ~ key_column ~ ' in (select key ' ~ recorded
                                  ~ " and key_column = '" ~ key_column ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(queries | join(' union all ')) }}
{%- endmacro %}

{#- For a snapshot: the SQL condition that a row is a version captured by its latest run, which during a refresh is
    this invocation's: dbt stamps every version a run inserts with the run's transaction time (dbt_updated_at),
    and the run's pre-hook recorded a time no later than that, before it inserted anything (snapshot_run_started);
    the versions of earlier runs were read by their own. Rows a run closed changed only their dbt_valid_to.
    Every version when no run was recorded. The post-hook indexes dbt_updated_at (snapshot_by_key_closed). -#}
{% macro snapshot_rows_filter(relation) -%}
    {{ return("dbt_updated_at >= coalesce((select max(key)::timestamp from private.rebuilt_rows where model = '"
              ~ relation.schema ~ "." ~ relation.identifier ~ "' and key_column = 'dbt_updated_at'), '-infinity')") }}
{%- endmacro %}

{#- The project's model node that builds `relation`, or none (a seed, a snapshot, a relation of no model). -#}
{% macro model_node(relation) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.schema == relation.schema
            and (node.alias or node.name) == relation.identifier -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
