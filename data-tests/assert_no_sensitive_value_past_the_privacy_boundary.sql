-- No raw value of a column that an extract contract marks `meta.sensitivity: identifier` or
-- `free_text` (crime ids, CAD and incident references, incident numbers, free-text locations, ... of
-- every dataset), from any load, active or superseded, appears as a value in any text column of any
-- relation past the privacy boundary (suppressed, intermediate, marts, quality, disclosure,
-- snapshots). A value is looked for as it arrived, trimmed of spaces, and trimmed as staging trims it.
-- The sensitive columns and the scanned relations are both found from the project graph: a new
-- dataset or model is covered without touching this test. Each relation and each raw table is read
-- once; only values as long as some sensitive value go to the join. A refresh looks for the values of the loads
-- it rebuilt in the rows it rebuilt and in the relations it rebuilt whole (macros/refresh_rows.sql).
{{ privacy_scan_depends_on() }}
{%- set sensitive_columns = privacy_scan_sensitive_columns(['identifier', 'free_text']) -%}
{%- set scanned_relations = privacy_scan_relations('text') %}

with

raw_values as (
    select
        null::text as found_in,
        null::text as raw_value
    where false
    {%- for source_table, columns in sensitive_columns | groupby('source') %}
    union
    select distinct
        form.found_in,
        form.raw_value
    from {{ columns[0].relation }} as raw_table
    cross join lateral (
        values
        {%- for sensitive in columns %}
        {%- set found_in = source_table ~ '.' ~ sensitive.column ~ ' (' ~ sensitive.kind ~ ')' %}
        {%- set raw_column = 'raw_table.' ~ adapter.quote(sensitive.column) %}
        ('{{ found_in }}', {{ raw_column }}),
        ('{{ found_in }}', btrim({{ raw_column }})),
        ('{{ found_in }}', {{ nullif_blank(raw_column) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as form (found_in, raw_value)
    where {{ refresh_raw_rows_filter(columns[0].relation, 'raw_table._load_id') }}
    {%- endfor %}
),

sensitive_values as (
    -- a blank, or a null spelled out (the ingest reads these as no value), is nobody's identifier
    select
        raw_value,
        string_agg(distinct found_in, ', ' order by found_in) as found_in
    from raw_values
    where upper(btrim(raw_value, e' \t\r\n')) not in ('', 'NULL', 'N/A', 'NA', '-')
    group by raw_value
),

value_lengths as (
    select
        min(length(raw_value)) as min_length,
        max(length(raw_value)) as max_length
    from sensitive_values
),

scanned_values as (
    select
        null::text as relation_name,
        null::text as column_name,
        null::text as scanned_value
    from value_lengths
    where false
    {%- for scanned in scanned_relations %}
    union all
    {{ privacy_scan_cells(scanned, 'text') }}
    cross join value_lengths
    where length(cell.scanned_value) between value_lengths.min_length and value_lengths.max_length
    {%- endfor %}
),

leaks as (
    select
        scanned_values.relation_name,
        scanned_values.column_name,
        sensitive_values.found_in,
        count(*) as leaked_value_count
    from scanned_values
    inner join sensitive_values
        on scanned_values.scanned_value = sensitive_values.raw_value
    group by scanned_values.relation_name, scanned_values.column_name, sensitive_values.found_in
)

select * from leaks
