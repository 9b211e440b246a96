{#- An MPS age band (0-17, 18-24, ..., 65+, Unknown) widened to 0-17, 18-34, 35-54, 55+ (Unknown as it is):
    the band generalisation releases when the MPS band would leave a group of people below k. -#}
{% macro mps_wide_age_band(age_band) -%}
    case
        when {{ age_band }} in ('18-24', '25-34') then '18-34'
        when {{ age_band }} in ('35-44', '45-54') then '35-54'
        when {{ age_band }} in ('55-64', '65+') then '55+'
        else {{ age_band }}
    end
{%- endmacro %}
