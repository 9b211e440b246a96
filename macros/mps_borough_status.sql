{#- Whether an MPS row can be placed in a London borough, for deciding whether it belongs in the marts:
    'london'               its borough name is one of the 33 London local authorities;
    'unknown_borough'      no borough recorded (blank or "Unknown");
    'not_a_london_borough' a name that is no London borough (e.g. the MPS's "London Heathrow and London
                           City Airports" pseudo-borough, which straddles Hillingdon and Newham). -#}
{% macro mps_borough_status(borough, borough_code) -%}
    case
        when {{ borough_code }} is not null then 'london'
        when coalesce(lower(btrim({{ borough }})), 'unknown') in ('unknown', '') then 'unknown_borough'
        else 'not_a_london_borough'
    end
{%- endmacro %}
