-- Past the privacy boundary no relation carries a point location, whatever its columns are called:
-- no column is named like a coordinate or street description (but an area's reference point, a column
-- its model marks `meta: {area_point: true}`, whose every value must then be coarser than a point
-- location: 3 decimals or fewer, about 100 m); no text value is a police.uk street or
-- station description ("On or near ...", any case) or a raw coordinate written as text; and no
-- non-integer number equals a raw coordinate. Relations are found from the project graph and each is
-- read once; only candidate values (the prefix, or a decimal number) go on to the join with raw.
-- The raw coordinates are those of every source column marked `meta.sensitivity: point_location`
-- (every dataset, every load), so a new dataset's points are checked without touching this test. A refresh
-- reads the rows it rebuilt and the coordinates of the loads it rebuilt (macros/refresh_rows.sql).
{{ privacy_scan_depends_on() }}
{%- set location_column_names = (
    '^(.*_)?(longitude|latitude|lon|lng|lat|location|street|easting|northing'
    ~ '|coordinates?|geom|geometry|point|context)$'
) -%}
{%- set named_like_locations = [] -%}
{%- set area_points = [] -%}
{%- for scanned in privacy_scan_columns() -%}
    {%- for column in scanned.columns if modules.re.match(location_column_names, column.name | lower) -%}
        {%- if column.name in scanned.area_points -%}
            {%- do area_points.append({'relation': scanned.relation, 'column': column}) -%}
        {%- else -%}
            {%- do named_like_locations.append({'relation': scanned.relation, 'column': column}) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endfor -%}
{%- set min_coordinate_decimals = 4 -%}
{%- set text_relations = privacy_scan_relations('text') -%}
{%- set number_relations = privacy_scan_relations('number') -%}
{%- set point_columns = privacy_scan_sensitive_columns(['point_location']) %}

with

raw_coordinate_texts as (
    select null::text as coordinate_text
    where false
    {%- for located in point_columns %}
    union all
    select btrim({{ adapter.quote(located.column) }}) as coordinate_text
    from {{ located.relation }}
    where {{ refresh_raw_rows_filter(located.relation) }}
    {%- endfor %}
),

raw_coordinates as (
    -- coordinates precise to {{ min_coordinate_decimals }} decimals or more once trailing zeros go (about 10 m):
    -- a coarser one (51.5, 0.12, 0.250000) is equalled by chance by rounded rates at ten years of history,
    -- while a leaked column of coordinates still shows through its many precise values
    select coordinate_text::numeric as coordinate
    from raw_coordinate_texts
    where
        coordinate_text ~ '^-?[0-9]+(\.[0-9]+)?$'
        and scale(trim_scale(coordinate_text::numeric)) >= {{ min_coordinate_decimals }}
),

candidate_texts as (
    -- text cells that are a street description, or a decimal number that could be a coordinate
    select
        null::text as relation_name,
        null::text as column_name,
        null::text as scanned_value
    where false
    {%- for scanned in text_relations %}
    union all
    {{ privacy_scan_cells(scanned, 'text') }}
    where
        lower(left(cell.scanned_value, 11)) = 'on or near '
        -- the pattern only where there is a point: most cells are codes and names, and the pattern on every one
        -- of them was half the scan's time
        or (strpos(cell.scanned_value, '.') > 0 and cell.scanned_value ~ '^\s*-?[0-9]{1,3}\.[0-9]+\s*$')
    {%- endfor %}
),

candidate_numbers as (
    -- non-integer numeric cells
    select
        null::text as relation_name,
        null::text as column_name,
        null::numeric as scanned_value
    where false
    {%- for scanned in number_relations %}
    union all
    {{ privacy_scan_cells(scanned, 'numeric') }}
    where cell.scanned_value != trunc(cell.scanned_value)
    {%- endfor %}
),

candidate_coordinate_texts as (
    select
        relation_name,
        column_name,
        -- case, so that only decimal numbers are ever cast
        case
            when scanned_value ~ '^\s*-?[0-9]{1,3}\.[0-9]+\s*$' then btrim(scanned_value)::numeric
        end as coordinate
    from candidate_texts
),

location_named_columns as (
    select
        null::text as relation_name,
        null::text as column_name
    where false
    {%- for named in named_like_locations %}
    union all
    select
        '{{ named.relation }}' as relation_name,
        '{{ named.column.name }}' as column_name
    {%- endfor %}
),

fine_area_points as (
    -- an area's reference point as precise as a point location
    select
        null::text as relation_name,
        null::text as column_name,
        null::bigint as finding_count
    where false
    {%- for point in area_points %}
    union all
    select
        '{{ point.relation }}' as relation_name,
        '{{ point.column.name }}' as column_name,
        count(*) as finding_count
    from {{ point.relation }}
    where scale(trim_scale({{ adapter.quote(point.column.name) }}::numeric)) >= {{ min_coordinate_decimals }}
    having count(*) > 0
    {%- endfor %}
),

findings as (
    select
        relation_name,
        column_name,
        'column named like a point location' as finding,
        1 as finding_count
    from location_named_columns
    union all
    select
        relation_name,
        column_name,
        'area point finer than a point location' as finding,
        finding_count
    from fine_area_points
    union all
    select
        relation_name,
        column_name,
        'street or station description' as finding,
        count(*) as finding_count
    from candidate_texts
    where lower(left(scanned_value, 11)) = 'on or near '
    group by relation_name, column_name
    union all
    select
        relation_name,
        column_name,
        'raw coordinate as text' as finding,
        count(*) as finding_count
    from candidate_coordinate_texts
    where
        exists (
            select null from raw_coordinates
            where raw_coordinates.coordinate = candidate_coordinate_texts.coordinate
        )
    group by relation_name, column_name
    union all
    select
        relation_name,
        column_name,
        'raw coordinate value' as finding,
        count(*) as finding_count
    from candidate_numbers
    where
        exists (
            select null from raw_coordinates
            where raw_coordinates.coordinate = candidate_numbers.scanned_value
        )
    group by relation_name, column_name
)

select * from findings
