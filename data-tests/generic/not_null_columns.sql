{#- Fails once for every given column that holds a NULL, naming it and counting its NULL rows. One pass over the
    rows tests every column that must be filled, where a not_null test per column would read them once each, and
    costs a build one test node per model rather than one per column. -#}
{% test not_null_columns(model, columns) %}

with

by_column as (
    -- the columns' names beside their NULL counts, count(*) - count(<column>), in the same order
    select
        unnest(array['{{ columns | join("', '") }}']) as column_name,
        unnest(array[count(*) - count({{ columns | join('), count(*) - count(') }})]) as null_rows
    from {{ model }}
),

null_columns as (
    select * from by_column
    where null_rows > 0
)

select * from null_columns

{% endtest %}
