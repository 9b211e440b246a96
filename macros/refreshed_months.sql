{#- While compiling a month-by-month table during a refresh, what its materialization will rebuild
    (refresh_by_month_plan), or none when it is built whole: computed from the same records, so both agree.
    For a model whose SQL must filter the tables it reads itself (a CTE read more than once is materialised by
    PostgreSQL, and the month filter on the model's result no longer reaches the tables under it). -#}
{% macro model_refresh_plan() -%}
    {%- if not execute or not config.get('month_column') or config.get('materialized') != 'partitioned_table' -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(refresh_by_month_plan(this.schema ~ '.' ~ this.identifier, refresh_sources(model))) }}
{%- endmacro %}

{#- The SQL condition that a row read by the month-by-month table being compiled, by its month `column`, is of
    a month this build rebuilds (model_refresh_plan); true when it is built whole. -#}
{% macro refreshed_months(column) -%}
    {%- set refresh = model_refresh_plan() -%}
    {{ return('true' if refresh is none else in_months(column, refresh)) }}
{%- endmacro %}
