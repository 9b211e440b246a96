{#- The generalisation levels of the MPS victim and perpetrator marts, finest first (generalised_to_k): each
    maps a published quasi-identifier to its released value at that level. `number_column`: victim_number
    or perpetrator_number (the person's number within the crime, the first thing withheld). Levels: 0 all as
    recorded; 1 the number withheld; 2 a wide age band; 3 the ethnic group withheld; 4 the category group in
    place of the category and knife flag; 5 the age band withheld; 6 sex withheld (the category group only);
    after 6, borough and month only. -#}
{% macro mps_person_levels(number_column) -%}
    {%- set recorded = {
        number_column: number_column,
        'incident_category_code': 'incident_category_code',
        'category_group': 'category_group',
        'is_knife_crime': 'is_knife_crime',
        'ethnicity_group': 'ethnicity_group',
        'sex': 'sex',
        'age_band': 'age_band',
    } -%}
    {%- set levels = [recorded] -%}
    {%- for change in [
        {number_column: 'null::int'},
        {'age_band': 'wide_age_band'},
        {'ethnicity_group': "'withheld'"},
        {'incident_category_code': 'null::text', 'is_knife_crime': 'null::boolean'},
        {'age_band': "'withheld'"},
        {'sex': "'withheld'"},
    ] -%}
        {%- set level = levels[-1].copy() -%}
        {%- do level.update(change) -%}
        {%- do levels.append(level) -%}
    {%- endfor -%}
    {%- do return(levels) -%}
{%- endmacro %}
