-- TfL bus safety rows of the loads that are current, typed, trimmed and renamed. A month comes from its
-- monthly extract when one is active, otherwise from the active cumulative publication (never both).
with

source as (
    select * from {{ source('tfl', 'bus_safety_incidents') }}
),

active_loads as (
    {{ active_loads('tfl', 'bus_safety_incidents') }}
),

-- not MATERIALIZED: a load filter on the view must reach raw's BRIN index on _load_id
renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        active_loads.agency,
        active_loads.coverage as load_coverage,
        {{ extract_value('source.date_of_incident', 'excel_date') }} as incident_date,
        {{ nullif_blank('source.route') }} as route,
        {{ nullif_blank('source.operator') }} as operator,  -- noqa: RF04
        {{ nullif_blank('source.group_name') }} as operator_group,
        {{ nullif_blank('source.bus_garage') }} as bus_garage,
        {{ nullif_blank('source.borough') }} as borough_name,
        {{ nullif_blank('source.injury_result_description') }} as injury_result,
        {{ nullif_blank('source.incident_event_type') }} as incident_event_type,
        {{ nullif_blank('source.victim_category') }} as victim_category,
        {{ nullif_blank('source.victims_sex') }} as victim_sex,
        {{ nullif_blank('source.victims_age') }} as victim_age_group,
        source._loaded_at as loaded_at
    from source
    inner join active_loads
        on source._load_id = active_loads.load_id
),

current_rows as (
    {{ monthly_beats_cumulative('renamed', 'incident_date') }}
)

select * from current_rows
