{#- A text value as staging types it: surrounding spaces, tabs and line breaks trimmed, blank -> NULL. -#}
{% macro nullif_blank(column) -%}
    nullif(btrim({{ column }}, e' \t\r\n'), '')
{%- endmacro %}
