{#- What anyone reading a released cell knows of its true count: the lowest (bound='lower') or highest
    (bound='upper') true count that releases as it does. 0 -> [0, 0]; suppressed -> [1, threshold];
    released r -> the counts that round to r (r - floor(base/2) .. r + ceil(base/2) - 1), none of them at
    or below the threshold. Secondary suppression compares these bounds across overlapping cells. -#}
{% macro sdc_count_bounds(count_expr, dataset, bound) -%}
    {%- set rule = sdc_rule(dataset) -%}
    {%- set base = rule.rounding_base -%}
    {%- set released = sdc_released_count(count_expr, dataset) -%}
    case
        when ({{ count_expr }}) = 0 then 0
        when ({{ count_expr }}) <= {{ rule.threshold }} then {{ 1 if bound == 'lower' else rule.threshold }}
        {%- if bound == 'lower' %}
        else greatest({{ rule.threshold + 1 }}, {{ released }} - {{ base // 2 }})
        {%- else %}
        else {{ released }} + {{ base - base // 2 - 1 }}
        {%- endif %}
    end
{%- endmacro %}
