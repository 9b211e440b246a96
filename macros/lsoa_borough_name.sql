{#- The local authority part of an LSOA name ("Kingston upon Thames 012C" -> "Kingston upon Thames"):
    the text before the last space. NULL when the name is NULL or has no space. -#}
{% macro lsoa_borough_name(lsoa_name) -%}
    substring(btrim({{ lsoa_name }}) from '^(.*\S)\s+\S+$')
{%- endmacro %}
