{#- A place name compared without case, surrounding or repeated spaces, or '&' against 'and'
    ("Hammersmith & Fulham" = "hammersmith and fulham", "Richmond Upon Thames" = "Richmond upon Thames"). -#}
{% macro normalised_place_name(column) -%}
    btrim(regexp_replace(lower(replace({{ column }}, '&', ' and ')), '\s+', ' ', 'g'))
{%- endmacro %}
