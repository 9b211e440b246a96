{#- dbt's test materialization, with the test's sql_header (dbt 1.11 reads it only behind a flag it does not
    define): a test that needs a setting of its own, such as the sensitive-value leak scan's work_mem, sets it
    with `set local` in the transaction its query runs in, and no other statement sees it. -#}
{% materialization test, adapter='postgres' %}
    {%- set sql_header = config.get('sql_header') -%}
    {%- if sql_header -%}
        {% call statement('sql_header', auto_begin=True) %}{{ sql_header }}{% endcall %}
    {%- endif -%}
    {{ return(materialization_test_default()) }}
{% endmaterialization %}
