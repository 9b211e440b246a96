{#- Stable key of a landed row: md5 of the ingest's load id and the row's number in its file.
    It survives rebuilds and identifies the row without carrying any of its content. -#}
{% macro row_key(load_id, source_row_number) -%}
    md5({{ load_id }}::text || '-' || {{ source_row_number }}::text)
{%- endmacro %}
