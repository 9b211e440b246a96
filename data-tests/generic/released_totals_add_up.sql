{#- Fails for every total row of an agg_ relation that is not the sum of the released cells under it:
    every-category rows over their categories, London rows over the boroughs. A total of true counts
    would let suppressed cells be recovered by subtraction. -#}
{% test released_totals_add_up(model, column_name) %}

with

released as (
    select * from {{ model }}
),

category_sums as (
    select
        incident_month,
        geography_level,
        geography_code,
        coalesce(sum({{ column_name }}), 0) as cells_sum
    from released
    where category_level = 'category' and not (geography_level = 'london')
    group by 1, 2, 3
),

london_sums as (
    select
        incident_month,
        category_level,
        category_code,
        coalesce(sum({{ column_name }}), 0) as cells_sum
    from released
    where geography_level = 'borough'
    group by 1, 2, 3
),

broken as (
    select
        released.incident_month,
        released.geography_code,
        released.category_code,
        released.{{ column_name }} as total,
        category_sums.cells_sum
    from released
    inner join category_sums
        on
            released.incident_month = category_sums.incident_month
            and released.geography_level = category_sums.geography_level
            and released.geography_code = category_sums.geography_code
    where released.category_level = 'all' and released.{{ column_name }} is distinct from category_sums.cells_sum
    union all
    select
        released.incident_month,
        released.geography_code,
        released.category_code,
        released.{{ column_name }} as total,
        london_sums.cells_sum
    from released
    inner join london_sums
        on
            released.incident_month = london_sums.incident_month
            and released.category_level = london_sums.category_level
            and released.category_code = london_sums.category_code
    where released.geography_level = 'london' and released.{{ column_name }} is distinct from london_sums.cells_sum
)

select * from broken

{% endtest %}
