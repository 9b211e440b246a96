{#- The relation a generic test reads (dbt's own macro, overridden; the test's `where` config still applies).
    During a refresh (var 'warehouse_fingerprint' set), a row-by-row test (not_null, unique, accepted values,
    relationships, a pattern, a unique combination) of a table past the privacy boundary that is rebuilt load
    by load, or of the staging view it is built from, reads only the loads the refresh rebuilds
    (refresh_changed_loads): the rest were tested when they were built. Tests that compare layers or count loads (row conservation) always read
    everything, as does every test of a full build (every load is rebuilt then) and of a build without the
    var. A relation that is not such a table, or a staging view whose table is unknown, is tested whole. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set row_tests = ['not_null', 'unique', 'accepted_values', 'relationships', 'matches_pattern',
                         'unique_combination_of_columns'] -%}
    {%- set test_name = (model.test_metadata or {}).get('name') if model.test_metadata is defined else none -%}
    {%- set loads_table = none -%}
    {%- if var('warehouse_fingerprint', none) is not none and test_name in row_tests -%}
        {%- if relation.schema == 'suppressed' -%}
            {%- set loads_table = 'suppressed.' ~ relation.identifier -%}
        {%- elif relation.schema == 'staging' and relation.identifier.startswith('stg_') -%}
            {#- stg_<source>__<thing> is built into suppressed.<source>_<thing> (one name per dataset) -#}
            {%- set loads_table = 'suppressed.' ~ relation.identifier[4:].replace('__', '_') -%}
        {%- endif -%}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if loads_table -%}
        {%- do conditions.append(in_loads('load_id', refresh_changed_loads(loads_table))) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ (conditions | join(' and ')) ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
