{#- The relations past the privacy boundary with their columns of one kind ('text' or 'number'),
    each as {'relation': ..., 'columns': [...]}; relations without such columns are left out. -#}
{% macro privacy_scan_relations(kind) %}
    {%- set found = [] -%}
    {%- for scanned in privacy_scan_columns() -%}
        {%- set columns = [] -%}
        {%- for column in scanned.columns -%}
            {%- if (kind == 'text' and column.is_string())
                or (kind == 'number' and (column.is_numeric() or column.is_float())) -%}
                {%- do columns.append(column) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if columns -%}
            {%- do found.append({'relation': scanned.relation, 'columns': columns}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}
