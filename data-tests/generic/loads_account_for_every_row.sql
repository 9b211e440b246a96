{#- Row conservation through the ingest, for one raw table (attach it to the dataset's source table): for
    every loaded or superseded file of the dataset, rows_read = rows_loaded + rows_rejected, rows_loaded is
    the number of its rows in raw and rows_rejected the number of its rows in raw._rejects; a quarantined
    file has no rows in raw; and every raw row belongs to a load of this dataset. Superseded rows stay in
    raw as history. A refresh checks the loads it builds into the dataset's load-by-load table
    (refresh_raw_rows_filter): raw is append-only, so the others were checked when they arrived; a full build
    checks every load and every raw row, rows of no load included. -#}
{% test loads_account_for_every_row(model) %}
{%- set refreshed_loads = refresh_raw_rows_filter(model, 'load_id') %}

with

loads as (
    select * from {{ source('ingest', 'loads') }}
    where dataset = '{{ model.identifier }}' and {{ refreshed_loads }}
),

rejects as (
    select * from {{ source('ingest', 'rejects') }}
),

raw_counts as (
    select
        _load_id as load_id,
        count(*) as raw_row_count
    from {{ model }}
    where {{ refresh_raw_rows_filter(model) }}
    group by _load_id
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
),

unaccounted as (
    select
        'load does not add up' as problem,
        load_id,
        file_name
    from accounted
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
),

orphans as (
    select
        'raw rows of no load of this dataset' as problem,
        raw_counts.load_id,
        null as file_name
    from raw_counts
    left join loads
        on raw_counts.load_id = loads.load_id
    where loads.load_id is null
)

select * from unaccounted
union all
select * from orphans

{% endtest %}
