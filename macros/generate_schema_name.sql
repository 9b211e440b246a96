{#- Use a model's custom schema (staging, suppressed, marts, ...) as-is, without the target-schema
    prefix dbt adds by default: access policies and Superset name these schemas literally. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
