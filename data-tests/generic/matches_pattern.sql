{#- Fails for every non-NULL value of the column that does not match the POSIX regular expression. -#}
{% test matches_pattern(model, column_name, pattern) %}

with

mismatched as (
    select {{ column_name }} as mismatched_value
    from {{ model }}
    where
        {{ column_name }} is not null
        and {{ column_name }}::text !~ '{{ pattern }}'
)

select * from mismatched

{% endtest %}
