-- Row conservation for the LFB and TfL datasets: per dataset, agency and month, the staged rows equal
-- the suppressed rows, and the suppressed rows equal the mart's rows plus the rows counted as excluded.
{%- set datasets = [
    {'name': 'lfb_incidents', 'staged': 'stg_lfb__incidents', 'month': "date_trunc('month', call_date)::date",
     'suppressed': 'lfb_incidents', 'mart': 'fct_fire_incidents', 'exclusions': 'lfb_incident_exclusions'},
    {'name': 'tfl_bus_safety_incidents', 'staged': 'stg_tfl__bus_safety_incidents',
     'month': "date_trunc('month', incident_date)::date", 'suppressed': 'tfl_bus_safety_incidents',
     'mart': 'fct_bus_safety_incidents', 'exclusions': 'bus_safety_incident_exclusions'},
    {'name': 'tfl_network_crimes', 'staged': 'stg_tfl__network_crimes',
     'month': "date_trunc('month', offence_date)::date", 'suppressed': 'tfl_network_crimes',
     'mart': 'fct_transport_crimes', 'exclusions': 'transport_crime_exclusions'},
] %}

with

counts as (
    {%- for d in datasets %}
        select
            '{{ d.name }}' as dataset,
            agency,
            {{ d.month }} as period_month,
            count(*) as staged_row_count,
            0 as suppressed_row_count,
            0 as mart_row_count,
            0 as excluded_row_count
        from {{ ref(d.staged) }}
        group by agency, {{ d.month }}
        union all
        select
            '{{ d.name }}' as dataset,
            agency,
            incident_month as period_month,
            0 as staged_row_count,
            count(*) as suppressed_row_count,
            0 as mart_row_count,
            0 as excluded_row_count
        from {{ ref(d.suppressed) }}
        group by agency, incident_month
        union all
        select
            '{{ d.name }}' as dataset,
            agency,
            incident_month as period_month,
            0 as staged_row_count,
            0 as suppressed_row_count,
            count(*) as mart_row_count,
            0 as excluded_row_count
        from {{ ref(d.mart) }}
        group by agency, incident_month
        union all
        select
            dataset,
            agency,
            period_month,
            0 as staged_row_count,
            0 as suppressed_row_count,
            0 as mart_row_count,
            excluded_row_count
        from {{ ref(d.exclusions) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

compared as (
    select
        dataset,
        agency,
        period_month,
        sum(staged_row_count) as staged_row_count,
        sum(suppressed_row_count) as suppressed_row_count,
        sum(mart_row_count) as mart_row_count,
        sum(excluded_row_count) as excluded_row_count
    from counts
    group by dataset, agency, period_month
)

select * from compared
where
    staged_row_count != suppressed_row_count
    or suppressed_row_count != mart_row_count + excluded_row_count
