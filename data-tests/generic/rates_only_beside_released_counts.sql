{#- Fails for every row where a rate is shown beside a suppressed count (rate_column's numerator is
    count_column): a rate and a population give the count back. -#}
{% test rates_only_beside_released_counts(model, column_name, count_column) %}

with

released as (
    select * from {{ model }}
),

broken as (
    select * from released
    where {{ count_column }} is null and {{ column_name }} is not null
)

select * from broken

{% endtest %}
