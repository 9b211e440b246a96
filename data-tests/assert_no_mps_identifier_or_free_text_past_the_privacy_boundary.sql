-- No crime id, CAD reference or free-text location from the MPS extracts (any load, active or
-- superseded) appears as a value in any text column of any relation past the privacy boundary
-- (suppressed, intermediate, marts, quality, snapshots). Relations are found from the project graph, so
-- a new model is scanned without touching this test; only values as long as some raw value are joined.
-- depends_on: {{ ref('mps_crime_victims') }}
-- depends_on: {{ ref('mps_crime_perpetrators') }}
-- depends_on: {{ ref('mps_recorded_crime_outcomes') }}
-- depends_on: {{ ref('mps_asb_incidents') }}
-- depends_on: {{ ref('int_mps_recorded_crimes_categorised') }}
-- depends_on: {{ ref('fct_crime_victims') }}
-- depends_on: {{ ref('fct_crime_perpetrators') }}
-- depends_on: {{ ref('fct_recorded_crimes') }}
-- depends_on: {{ ref('fct_asb_incidents') }}
-- depends_on: {{ ref('mps_crime_victims_exclusions') }}
-- depends_on: {{ ref('mps_crime_perpetrators_exclusions') }}
-- depends_on: {{ ref('mps_recorded_crime_outcomes_exclusions') }}
-- depends_on: {{ ref('mps_asb_incidents_exclusions') }}
{%- set scanned_relations = privacy_scan_relations('text') %}

with

raw_values as (
    select
        'crime id' as kind,
        btrim(crime_id) as raw_value
    from {{ source('mps', 'crime_victims') }}
    union
    select
        'crime id' as kind,
        btrim(crime_id) as raw_value
    from {{ source('mps', 'crime_perpetrators') }}
    union
    select
        'crime id' as kind,
        btrim(crime_id) as raw_value
    from {{ source('mps', 'recorded_crime_outcomes') }}
    union
    select
        'CAD reference' as kind,
        btrim(incident_reference) as raw_value
    from {{ source('mps', 'asb_incidents') }}
    union
    select
        'free-text location' as kind,
        btrim(location_description) as raw_value
    from {{ source('mps', 'asb_incidents') }}
),

sensitive_values as (
    select * from raw_values
    where raw_value != ''
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
        sensitive_values.kind,
        count(*) as leaked_value_count
    from scanned_values
    inner join sensitive_values
        on scanned_values.scanned_value = sensitive_values.raw_value
    group by scanned_values.relation_name, scanned_values.column_name, sensitive_values.kind
)

select * from leaks
