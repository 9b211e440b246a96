{#- dbt-postgres only compares a materialized view's indexes with its config: when the model's SQL
    changes, a plain `dbt build` just refreshes the old definition and only --full-refresh replaces
    it. Staging is materialised as materialized views, so also compare the definitions, as
    PostgreSQL deparses them: the new SQL as a temporary view against the existing view. A changed
    definition is reported as a change that requires a full refresh, which replaces the view. -#}
{% macro postgres__get_materialized_view_configuration_changes(existing_relation, new_config) %}
    {%- set existing_materialized_view = postgres__describe_materialized_view(existing_relation) -%}
    {%- set changes = existing_relation.get_materialized_view_config_change_collection(
        existing_materialized_view, new_config.model
    ) -%}
    {%- if changes is none and not materialized_view_definition_is_current(existing_relation, sql) -%}
        {{ log('The SQL of ' ~ existing_relation ~ ' changed: replacing the materialized view.', info=true) }}
        {%- set changes = {'requires_full_refresh': true, 'indexes': []} -%}
    {%- endif -%}
    {{ return(changes) }}
{% endmacro %}
