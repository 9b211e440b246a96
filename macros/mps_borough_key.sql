{#- A borough name as the MPS extracts spell it, reduced to a key that matches the london_boroughs seed:
    case, surrounding and doubled spaces and "&" for "and" do not matter ("KENSINGTON & CHELSEA "). -#}
{% macro mps_borough_key(borough) -%}
    lower(regexp_replace(replace(btrim({{ borough }}), '&', 'and'), '\s+', ' ', 'g'))
{%- endmacro %}
