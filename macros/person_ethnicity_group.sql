{#- A recorded ethnicity reduced to the broad ONS groups (Asian, Black, Mixed, White, Other) or Not Stated,
    whatever the case or the longer census wording ("Black, Black British, Caribbean or African"). Anything
    unrecognised is Not Stated: nothing finer than the broad group passes the privacy boundary. -#}
{% macro person_ethnicity_group(ethnicity) -%}
    case
        when lower(btrim({{ ethnicity }})) like 'asian%' then 'Asian or Asian British'
        when lower(btrim({{ ethnicity }})) like 'black%' then 'Black or Black British'
        when lower(btrim({{ ethnicity }})) like 'mixed%' then 'Mixed'
        when lower(btrim({{ ethnicity }})) like 'white%' then 'White'
        when lower(btrim({{ ethnicity }})) like 'other%' then 'Other Ethnic Group'
        else 'Not Stated'
    end
{%- endmacro %}
