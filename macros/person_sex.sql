{#- A recorded sex as Male, Female or Unknown, whatever the case or abbreviation (M, F). -#}
{% macro person_sex(sex) -%}
    case
        when lower(btrim({{ sex }})) in ('male', 'm') then 'Male'
        when lower(btrim({{ sex }})) in ('female', 'f') then 'Female'
        else 'Unknown'
    end
{%- endmacro %}
