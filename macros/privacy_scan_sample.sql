{#- The rows a privacy scan reads of a relation: all of them by default, or a fixed, repeatable
    sample when var('privacy_scan_sample_percent') is below 100. A leak is a property of a column
    (a transformation that carries a raw value through), so a sample of every relation still finds
    it; the monthly refresh samples to keep the scans' cost flat as history grows. A large table is sampled
    by block (SYSTEM reads only the sampled blocks; BERNOULLI would read every block to pick its rows), a
    small one by row, so that it is never left with no block at all. Views cannot be sampled (PostgreSQL
    samples tables only) and are read whole. -#}
{% macro privacy_scan_sample(relation) -%}
    {%- set percent = var('privacy_scan_sample_percent', 100) | float -%}
    {%- if percent < 100 and relation.type == 'table' -%}
        {%- set pages = run_query("select coalesce(sum(c.relpages), 0) from pg_class as c"
                                  ~ " where c.oid = '" ~ relation ~ "'::regclass"
                                  ~ " or c.oid in (select inhrelid from pg_inherits"
                                  ~ " where inhparent = '" ~ relation ~ "'::regclass)").columns[0].values()[0] -%}
        tablesample {{ 'system' if pages >= 1000 else 'bernoulli' }} ({{ percent }}) repeatable (0)
    {%- endif -%}
{%- endmacro %}
