-- ISTV files as the data-quality marts need them, past the privacy boundary: which site sent which
-- month, when it arrived, what loaded. No file names or paths.
-- One row per file, read from the loads table itself: small, so rebuilt whole every time.
{{ config(materialized='table') }}

with

submissions as (
    select * from {{ ref('stg_istv__submissions') }}
),

suppressed as (
    select
        load_id,
        agency,
        site_code,
        period_month,
        status,
        rows_read,
        rows_loaded,
        rows_rejected,
        arrival_month,
        loaded_at,
        -- the deadline: the landing folder of the period's own month, or (loads from elsewhere) the end
        -- of the month after the period
        case
            when arrival_month_from_folder then arrival_month > period_month
            else arrival_month > (period_month + interval '1 month')::date
        end as arrived_late
    from submissions
)

select * from suppressed
