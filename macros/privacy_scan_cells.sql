{#- One relation's scanned columns as rows (relation_name, column_name, scanned_value), the values
    cast to value_type, read through privacy_scan_sample: what the privacy leak scans search. -#}
{% macro privacy_scan_cells(scanned, value_type) -%}
select
    '{{ scanned.relation }}' as relation_name,
    cell.column_name,
    cell.scanned_value
from {{ scanned.relation }} as scanned_relation {{ privacy_scan_sample(scanned.relation) }}
cross join lateral (
    values
    {%- for column in scanned.columns %}
        ('{{ column.name }}', scanned_relation.{{ adapter.quote(column.name) }}::{{ value_type }})
        {{- "," if not loop.last }}
    {%- endfor %}
) as cell (column_name, scanned_value)
{%- endmacro %}
