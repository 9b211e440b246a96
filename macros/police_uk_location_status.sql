{#- Where a police.uk row sits, for deciding whether it belongs in the London marts:
    'london'         its LSOA's local authority is a London borough (borough_code matched);
    'outside_london' it has an LSOA outside London, or no LSOA but a real place (BTP rows at
                     Scottish stations have coordinates and a station name but no LSOA);
    'no_location'    no LSOA and the force published it as "No Location" (any case). -#}
{% macro police_uk_location_status(lsoa_code, location, borough_code) -%}
    case
        when {{ lsoa_code }} is not null and {{ borough_code }} is not null then 'london'
        when {{ lsoa_code }} is not null then 'outside_london'
        when coalesce(lower({{ location }}), 'no location') = 'no location' then 'no_location'
        else 'outside_london'
    end
{%- endmacro %}
