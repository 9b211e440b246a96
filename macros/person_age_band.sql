{#- A recorded age as a broad band (0-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+ or Unknown): a band the
    extract already gives is kept; an exact age in whole years (which an extract should never carry) is
    banded here, at the privacy boundary; anything else is Unknown. -#}
{% macro person_age_band(age) -%}
    case
        when btrim({{ age }}) in ('0-17', '18-24', '25-34', '35-44', '45-54', '55-64', '65+')
            then btrim({{ age }})
        when btrim({{ age }}) ~ '^[0-9]{1,3}$'
            then
                case
                    when btrim({{ age }})::int < 18 then '0-17'
                    when btrim({{ age }})::int < 25 then '18-24'
                    when btrim({{ age }})::int < 35 then '25-34'
                    when btrim({{ age }})::int < 45 then '35-44'
                    when btrim({{ age }})::int < 55 then '45-54'
                    when btrim({{ age }})::int < 65 then '55-64'
                    else '65+'
                end
        else 'Unknown'
    end
{%- endmacro %}
