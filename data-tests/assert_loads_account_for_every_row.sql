-- The ingest's bookkeeping adds up: for every loaded or superseded file, rows_read = rows_loaded +
-- rows_rejected, rows_loaded is the number of its rows in raw and rows_rejected the number of its rows
-- in raw._rejects; a quarantined file has no rows in raw. Superseded rows stay in raw as history.
with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

rejects as (
    select * from {{ source('ingest', 'rejects') }}
),

raw_street_crimes as (
    select * from {{ source('police_uk', 'street_crimes') }}
),

raw_crime_outcomes as (
    select * from {{ source('police_uk', 'crime_outcomes') }}
),

raw_counts as (
    select
        _load_id as load_id,
        count(*) as raw_row_count
    from raw_street_crimes
    group by _load_id
    union all
    select
        _load_id as load_id,
        count(*) as raw_row_count
    from raw_crime_outcomes
    group by _load_id
    {#- every other landed dataset: the sources in schema raw that the ingest fills (its own tables start '_') #}
    {%- if execute %}
    {%- for landed in graph.sources.values() | sort(attribute='unique_id')
        if landed.schema == 'raw' and landed.source_name != 'police_uk'
        and not landed.identifier.startswith('_') %}
    union all
    select
        _load_id as load_id,
        count(*) as raw_row_count
    from {{ landed.schema }}.{{ landed.identifier }}
    group by _load_id
    {%- endfor %}
    {%- endif %}
),

reject_counts as (
    select
        load_id,
        count(*) as reject_row_count
    from rejects
    group by load_id
),

accounted as (
    select
        loads.load_id,
        loads.file_name,
        loads.status,
        loads.rows_read,
        loads.rows_loaded,
        loads.rows_rejected,
        coalesce(raw_counts.raw_row_count, 0) as raw_row_count,
        coalesce(reject_counts.reject_row_count, 0) as reject_row_count
    from loads
    left join raw_counts
        on loads.load_id = raw_counts.load_id
    left join reject_counts
        on loads.load_id = reject_counts.load_id
)

select * from accounted
where
    (
        status in ('loaded', 'superseded')
        and (
            rows_read is distinct from rows_loaded + rows_rejected
            or rows_loaded is distinct from raw_row_count
            or rows_rejected is distinct from reject_row_count
        )
    )
    or (status = 'quarantined' and raw_row_count != 0)
