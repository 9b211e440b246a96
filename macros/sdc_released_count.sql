{#- A true count as released: 0 stays 0, 1..threshold is suppressed (NULL), anything larger is rounded to
    the nearest multiple of the rounding base (halves away from zero). -#}
{% macro sdc_released_count(count_expr, dataset) -%}
    {%- set rule = sdc_rule(dataset) -%}
    case
        when ({{ count_expr }}) = 0 then 0
        when ({{ count_expr }}) <= {{ rule.threshold }} then null
        else (round(({{ count_expr }})::numeric / {{ rule.rounding_base }}) * {{ rule.rounding_base }})::bigint
    end
{%- endmacro %}
