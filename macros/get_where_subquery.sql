{#- The relation a generic test reads (dbt's own macro, overridden; the test's `where` config still applies).
    During a refresh (var 'warehouse_fingerprint' set), a row-by-row test (not_null, unique, accepted values,
    relationships, a pattern, a unique combination) of a table past the privacy boundary that is rebuilt load
    by load, or of the staging view it is built from, reads only the loads the refresh rebuilds
    (refresh_changed_loads): the rest were tested when they were built. Likewise a row-by-row test of a table
    refreshed month by month reads only the months this build rebuilt in it (refresh_changed_months_filter).
    Tests that compare layers or count loads (row conservation) always read everything, as does every test of a
    full build (every load and month is rebuilt then) and of a build without the var. A relation that is not
    such a table (a view), or a staging view whose table is unknown, is tested whole. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set row_tests = ['not_null', 'unique', 'accepted_values', 'relationships', 'matches_pattern',
                         'unique_combination_of_columns'] -%}
    {%- set test_name = (model.test_metadata or {}).get('name') if model.test_metadata is defined else none -%}
    {%- set loads_table = none -%}
    {%- set month_column = none -%}
    {%- if var('warehouse_fingerprint', none) is not none and test_name in row_tests -%}
        {%- if relation.schema == 'suppressed' -%}
            {%- set loads_table = 'suppressed.' ~ relation.identifier -%}
        {%- elif relation.schema == 'staging' and relation.identifier.startswith('stg_') -%}
            {#- stg_<source>__<thing> is built into suppressed.<source>_<thing> (one name per dataset) -#}
            {%- set loads_table = 'suppressed.' ~ relation.identifier[4:].replace('__', '_') -%}
        {%- else -%}
            {%- set month_column = refreshed_month_column(relation) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if loads_table -%}
        {%- do conditions.append(in_loads('load_id', refresh_changed_loads(loads_table))) -%}
    {%- endif -%}
    {%- if month_column -%}
        {%- do conditions.append(refresh_changed_months_filter(relation.schema ~ '.' ~ relation.identifier,
                                                               month_column)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ (conditions | join(' and ')) ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- The month column of `relation` when it is a table refreshed month by month (a partitioned_table model with
    config month_column), else none. -#}
{% macro refreshed_month_column(relation) -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model'
                and node.schema == relation.schema and (node.alias or node.name) == relation.identifier
                and node.config.materialized == 'partitioned_table' and node.config.get('month_column') -%}
            {{ return(node.config.get('month_column')) }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The SQL condition that a row's `month_column` is a month this dbt invocation rebuilt in `model_name` (a table
    refreshed month by month), as it recorded in private.changed_months: true after a full build, false when
    the table was not rebuilt, else the months as a literal list the planner takes to the month's index (a
    test is compiled when it runs, after its table was built). -#}
{% macro refresh_changed_months_filter(model_name, month_column) -%}
    {%- if not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set recorded = run_query("select month::text, all_months from private.changed_months where model = '"
                                 ~ model_name ~ "' and invocation_id = '" ~ invocation_id ~ "'") -%}
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
