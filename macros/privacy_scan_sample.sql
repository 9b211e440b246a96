{#- The rows a privacy scan reads of a relation: all of them by default, or a fixed, repeatable
    sample when var('privacy_scan_sample_percent') is below 100. A leak is a property of a column
    (a transformation that carries a raw value through), so a sample of every relation still finds
    it; the monthly refresh samples to keep the scans' cost flat as history grows. Views cannot be
    sampled (PostgreSQL samples tables only) and are read whole. -#}
{% macro privacy_scan_sample(relation) -%}
    {%- set percent = var('privacy_scan_sample_percent', 100) | float -%}
    {%- if percent < 100 and relation.type == 'table' -%}
        tablesample bernoulli ({{ percent }}) repeatable (0)
    {%- endif -%}
{%- endmacro %}
