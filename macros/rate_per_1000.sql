{#- A rate per 1,000 population: count / population * 1000 as numeric, rounded to `decimals` places
    (2 by default: borough monthly rates are mostly between 0.01 and 20). NULL when the population is
    NULL or 0, so a missing estimate never reads as a zero or infinite rate. -#}
{% macro rate_per_1000(count_expr, population_expr, decimals=2) -%}
    round(1000.0 * ({{ count_expr }})::numeric / nullif(({{ population_expr }})::numeric, 0), {{ decimals }})
{%- endmacro %}
