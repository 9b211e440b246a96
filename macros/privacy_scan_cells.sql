{#- One relation's scanned columns as rows (relation_name, column_name, scanned_value), the values cast to
    value_type: what the privacy leak scans search. During a refresh, only the rows it rebuilt in a relation
    refreshed by load, by month or by key (macros/refresh_rows.sql), every one of them; otherwise the relation's rows
    through privacy_scan_sample. -#}
{% macro privacy_scan_cells(scanned, value_type) -%}
{%- set rebuilt = rebuilt_rows_query(scanned.relation) -%}
{%- set refreshed = none if rebuilt else refresh_rows_filter(scanned.relation) -%}
select
    '{{ scanned.relation }}' as relation_name,
    cell.column_name,
    cell.scanned_value
{%- if rebuilt %}
from ({{ rebuilt }}) as scanned_relation
{%- elif refreshed is none %}
from {{ scanned.relation }} as scanned_relation {{ privacy_scan_sample(scanned.relation) }}
{%- else %}
from (select * from {{ scanned.relation }} where {{ refreshed }}) as scanned_relation
{%- endif %}
cross join lateral (
    values
    {%- for column in scanned.columns %}
        ('{{ column.name }}', scanned_relation.{{ adapter.quote(column.name) }}::{{ value_type }})
        {{- "," if not loop.last }}
    {%- endfor %}
) as cell (column_name, scanned_value)
{%- endmacro %}
