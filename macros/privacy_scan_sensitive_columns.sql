{#- The raw columns the extract contracts mark as sensitive: every column of every source with
    meta.sensitivity in `kinds` (identifier, free_text, point_location, personal), each as
    {'relation': the raw table, 'column': ..., 'kind': ..., 'source': '<source>.<table>'}. Declared on
    the source (the raw table, every load active or superseded, values as they arrived), not on staging,
    which reads current loads only and renames. Empty at parse time. -#}
{% macro privacy_scan_sensitive_columns(kinds) %}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- if node.package_name == project_name -%}
                {%- for column in node.columns.values() | sort(attribute='name') -%}
                    {%- set meta = column.meta or (column.config or {}).get('meta') or {} -%}
                    {%- if meta.get('sensitivity') in kinds -%}
                        {%- do found.append({
                            'relation': source(node.source_name, node.name),
                            'column': column.name,
                            'kind': meta.get('sensitivity'),
                            'source': node.source_name ~ '.' ~ node.name,
                        }) -%}
                    {%- endif -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{% endmacro %}
