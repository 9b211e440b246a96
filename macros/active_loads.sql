{#- The ingest's loads of one raw source whose rows are current (status var('active_load_status'); superseded
    and quarantined loads are history), one row per load: its id, agency, coverage ('monthly' or 'cumulative')
    and period (the month of a monthly file). A staging model keeps the source rows of these loads only. -#}
{% macro active_loads(source_name, table_name) -%}
    select
        load_id,
        agency,
        coverage,
        period
    from {{ source('ingest', 'loads') }}
    where
        status = '{{ var("active_load_status") }}'
        and dataset = '{{ source(source_name, table_name).identifier }}'
{%- endmacro %}

{#- A dataset published both as monthly extracts and as a cumulative file takes each month from one of them:
    its monthly extract when one is active, otherwise the active cumulative publication (never both). `rows`
    holds the staged rows with their load's agency and coverage (load_coverage), `date_column` dates each row,
    `loads` is the model's active_loads. -#}
{% macro monthly_beats_cumulative(rows, date_column, loads='active_loads') -%}
    select {{ rows }}.*
    from {{ rows }}
    left join {{ loads }} as monthly_loads
        on
            {{ rows }}.agency = monthly_loads.agency
            and monthly_loads.coverage = 'monthly'
            and date_trunc('month', {{ rows }}.{{ date_column }})::date = monthly_loads.period
    where {{ rows }}.load_coverage = 'monthly' or monthly_loads.period is null
{%- endmacro %}
