{#- The relation a generic test reads (dbt's own macro, overridden; the test's `where` config still applies). During
    a refresh, a row-by-row test (not_null, a model's not-null columns, unique, accepted values, relationships, a
    pattern, a unique combination) and a test of each month's rows together (the released totals) read only the rows
    the refresh rebuilt (macros/refresh_rows.sql): the loads it rebuilt in a table past the privacy boundary built
    load by load, or in the staging view it is built from (row tests only: a load need not hold whole months); the
    months it rebuilt in a table refreshed month by month, or changed in the tables a view reads (on a month column
    the view shares with them). The rest were tested when they were built. Every other test, every test of a full
    build (every load and month is rebuilt then) and of a build without the refresh's var reads everything. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set row_tests = ['not_null', 'not_null_columns', 'unique', 'accepted_values', 'relationships',
                         'matches_pattern', 'unique_combination_of_columns'] -%}
    {#- a test of each month's rows together: the months a refresh rebuilt whole, never the loads it rebuilt -#}
    {%- set month_tests = ['released_totals_add_up'] -%}
    {%- set test_name = (model.test_metadata or {}).get('name') if model.test_metadata is defined else none -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if test_name in row_tests or (test_name in month_tests and refreshed_loads_table(relation) is none) -%}
        {%- set refreshed = refresh_rows_filter(relation) -%}
        {%- if refreshed is not none -%}
            {%- do conditions.append(refreshed) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ (conditions | join(' and ')) ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
