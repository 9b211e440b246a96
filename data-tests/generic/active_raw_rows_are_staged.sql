{#- Row conservation into staging, for one staging model (attach it to the model, naming its raw source):
    every raw row of a currently active load is in the model, and the model holds no row that is not one
    (none of a superseded or quarantined load). During a refresh, only for the loads the refresh rebuilt into
    the dataset's table past the privacy boundary (refresh_changed_loads): conservation holds load by load. -#}
{% test active_raw_rows_are_staged(model, raw) %}
{%- set loads = refresh_changed_loads('suppressed.' ~ raw.identifier) %}

with

loads as (
    select * from {{ source('ingest', 'loads') }}
),

active_raw_rows as (
    select
        raw_rows._load_id as load_id,
        raw_rows._source_row_number as source_row_number
    from {{ raw }} as raw_rows
    inner join loads
        on raw_rows._load_id = loads.load_id
    where
        loads.status = '{{ var("active_load_status") }}'
        and {{ in_loads('raw_rows._load_id', loads) }}
),

staged_rows as (
    select
        load_id,
        source_row_number
    from {{ model }}
    where {{ in_loads('load_id', loads) }}
),

missing_from_staging as (
    -- set differences, not anti joins: their cost does not hang on the planner's estimate of the new loads' rows
    select
        'active raw row missing from staging' as problem,
        missing.*
    from (
        select load_id, source_row_number from active_raw_rows
        except
        select load_id, source_row_number from staged_rows
    ) as missing
),

not_an_active_raw_row as (
    select
        'staged row that is not an active raw row' as problem,
        unexpected.*
    from (
        select load_id, source_row_number from staged_rows
        except
        select load_id, source_row_number from active_raw_rows
    ) as unexpected
)

select * from missing_from_staging
union all
select * from not_an_active_raw_row

{% endtest %}
