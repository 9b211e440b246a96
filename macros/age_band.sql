{#- A patient's age in whole years as the platform's age band: 0-9, 10-17, 18-24, 25-34, 35-44, 45-54,
    55-64, 65+; 'unknown' for NULL, negative or implausible (over 120) ages. Exact ages never pass the
    privacy boundary. -#}
{% macro age_band(age) -%}
    case
        when {{ age }} is null or {{ age }} < 0 or {{ age }} > 120 then 'unknown'
        when {{ age }} <= 9 then '0-9'
        when {{ age }} <= 17 then '10-17'
        when {{ age }} <= 24 then '18-24'
        when {{ age }} <= 34 then '25-34'
        when {{ age }} <= 44 then '35-44'
        when {{ age }} <= 54 then '45-54'
        when {{ age }} <= 64 then '55-64'
        else '65+'
    end
{%- endmacro %}
