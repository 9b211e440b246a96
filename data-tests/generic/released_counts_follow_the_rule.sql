{#- Fails for every count of an agg_ relation that breaks its dataset's disclosure rule: a released count
    in 1..threshold, or not a multiple of the rounding base, or a suppressed flag set beside a number, or
    (unless the relation may leave a count NULL for a month its dataset was not received) a NULL whose
    suppressed flag is not set. -#}
{% test released_counts_follow_the_rule(model, column_name, dataset, null_means_suppressed=true) %}
{%- set rule = sdc_rule(dataset) %}

with

counts as (
    select
        {{ column_name }} as released_count,
        {{ column_name }}_suppressed as is_suppressed
    from {{ model }}
),

broken as (
    select * from counts
    where
        released_count between 1 and {{ rule.threshold }}
        or released_count % {{ rule.rounding_base }} <> 0
        or (released_count is not null and is_suppressed)
        or (released_count is null and not is_suppressed and {{ null_means_suppressed }})
)

select * from broken

{% endtest %}
