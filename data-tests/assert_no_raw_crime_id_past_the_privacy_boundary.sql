-- No police.uk crime id, from any load (active or superseded), appears as a value in any text column
-- of any relation past the privacy boundary (suppressed, intermediate, marts, quality, snapshots).
-- Relations are found from the project graph, so a new model is scanned without touching this test.
-- Each relation is read once; only values as long as some crime id go to the join.
-- depends_on: {{ ref('police_uk_street_crimes') }}
-- depends_on: {{ ref('police_uk_crime_outcomes') }}
-- depends_on: {{ ref('int_crime_outcomes_latest') }}
-- depends_on: {{ ref('fct_street_crimes') }}
-- depends_on: {{ ref('fct_crime_outcomes') }}
-- depends_on: {{ ref('dim_boroughs') }}
-- depends_on: {{ ref('police_uk_street_crimes_exclusions') }}
-- depends_on: {{ ref('police_uk_crime_outcomes_exclusions') }}
-- depends_on: {{ ref('snp_crime_outcomes') }}
-- depends_on: {{ ref('ons_lsoa_ward_lookup') }}
-- depends_on: {{ ref('dim_date') }}
-- depends_on: {{ ref('dim_geography') }}
-- depends_on: {{ ref('dim_borough_population') }}
-- depends_on: {{ ref('dim_incident_category') }}
{%- set scanned_relations = privacy_scan_relations('text') %}

with

raw_street_crimes as (
    select * from {{ source('police_uk', 'street_crimes') }}
),

raw_crime_outcomes as (
    select * from {{ source('police_uk', 'crime_outcomes') }}
),

raw_crime_ids as (
    select btrim(crime_id) as crime_id from raw_street_crimes
    where btrim(crime_id) != ''
    union
    select btrim(crime_id) as crime_id from raw_crime_outcomes
    where btrim(crime_id) != ''
),

crime_id_lengths as (
    select
        min(length(crime_id)) as min_length,
        max(length(crime_id)) as max_length
    from raw_crime_ids
),

scanned_values as (
    select
        null::text as relation_name,
        null::text as column_name,
        null::text as scanned_value
    from crime_id_lengths
    where false
    {%- for scanned in scanned_relations %}
    union all
    {{ privacy_scan_cells(scanned, 'text') }}
    cross join crime_id_lengths
    where length(cell.scanned_value) between crime_id_lengths.min_length and crime_id_lengths.max_length
    {%- endfor %}
),

leaks as (
    select
        scanned_values.relation_name,
        scanned_values.column_name,
        count(*) as leaked_value_count
    from scanned_values
    inner join raw_crime_ids
        on scanned_values.scanned_value = raw_crime_ids.crime_id
    group by scanned_values.relation_name, scanned_values.column_name
)

select * from leaks
