{{ config(alias='agg_street_crimes_monthly') }}

{{ sdc_monthly_aggregate(
    'fct_street_crimes',
    'police_uk_street_crimes',
    'street_crime_count',
    month_column='crime_month',
    ward_from='lsoa',
) }}
