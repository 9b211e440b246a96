{#- The value of each quasi-identifier of an MPS person beyond the last level: withheld. -#}
{% macro mps_person_withheld(number_column) -%}
    {%- do return({
        number_column: 'null::int',
        'incident_category_code': 'null::text',
        'category_group': "'withheld'",
        'is_knife_crime': 'null::boolean',
        'ethnicity_group': "'withheld'",
        'sex': "'withheld'",
        'age_band': "'withheld'",
    }) -%}
{%- endmacro %}
