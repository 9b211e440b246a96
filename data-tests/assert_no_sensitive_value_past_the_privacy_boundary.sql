-- No raw value of a column that an extract contract marks `meta.sensitivity: identifier` or
-- `free_text` (crime ids, CAD and incident references, incident numbers, free-text locations, ... of
-- every dataset), from any load, active or superseded, appears as a value in any text column of any
-- relation past the privacy boundary (suppressed, intermediate, marts, quality, disclosure,
-- snapshots). A value is looked for as it arrived, trimmed of spaces, and trimmed as staging trims it.
-- The sensitive columns and the scanned relations are both found from the project graph: a new
-- dataset or model is covered without touching this test. Each relation and each raw table is read
-- once; only values as long as some sensitive value go to the join. A refresh looks for the values of the loads
-- it rebuilt in the rows it rebuilt and in the relations it rebuilt whole (macros/refresh_rows.sql).
-- The scan keeps its temporary files small at any size of history: the cells are matched against a 64-bit hash
-- of each distinct sensitive value (a hash table that fits in this test's work_mem, so the cells are streamed
-- past it rather than written out in batches), and only the cells whose hash matches are compared, as text, with
-- the raw values, which are read a second time only when there is such a cell. At ten years the text join
-- wrote more than 25 GB of temporary files and did not finish; the sort of the raw values alone wrote 36 GB.
{{ config(sql_header="set local work_mem = '512MB';") }}
{{ privacy_scan_depends_on() }}
{%- set sensitive_columns = privacy_scan_sensitive_columns(['identifier', 'free_text']) -%}
{%- set scanned_relations = privacy_scan_relations('text') %}

with

raw_values as not materialized (
    select
        null::text as found_in,
        null::text as raw_value
    where false
    {%- for source_table, columns in sensitive_columns | groupby('source') %}
    union all
    select
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
    where
        {{ refresh_raw_rows_filter(columns[0].relation, 'raw_table._load_id') }}
        -- a blank, or a null spelled out (the ingest reads these as no value), is nobody's identifier
        and upper(btrim(form.raw_value, e' \t\r\n')) not in ('', 'NULL', 'N/A', 'NA', '-')
    {%- endfor %}
),

sensitive_hashes as (
    select
        hashtextextended(raw_value, 0) as value_hash,
        length(raw_value) as value_length
    from raw_values
    group by hashtextextended(raw_value, 0), length(raw_value)
),

value_lengths as (
    select
        min(value_length) as min_length,
        max(value_length) as max_length
    from sensitive_hashes
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

-- the cells whose hash is that of a sensitive value of their length: almost always none
candidate_cells as materialized (
    select
        scanned_values.relation_name,
        scanned_values.column_name,
        scanned_values.scanned_value
    from scanned_values
    inner join sensitive_hashes
        on
            hashtextextended(scanned_values.scanned_value, 0) = sensitive_hashes.value_hash
            and length(scanned_values.scanned_value) = sensitive_hashes.value_length
),

-- read only when some cell is a candidate: a condition on no row is evaluated once, before the scan
sensitive_values as (
    select
        raw_values.raw_value,
        string_agg(distinct raw_values.found_in, ', ' order by raw_values.found_in) as found_in
    from raw_values
    where
        exists (select from candidate_cells)
        and raw_values.raw_value in (select candidate_cells.scanned_value from candidate_cells)
    group by raw_values.raw_value
),

leaks as (
    select
        candidate_cells.relation_name,
        candidate_cells.column_name,
        sensitive_values.found_in,
        count(*) as leaked_value_count
    from candidate_cells
    inner join sensitive_values
        on candidate_cells.scanned_value = sensitive_values.raw_value
    group by candidate_cells.relation_name, candidate_cells.column_name, sensitive_values.found_in
)

select * from leaks
