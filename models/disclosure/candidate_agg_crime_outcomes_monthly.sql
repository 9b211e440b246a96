{{ config(alias='agg_crime_outcomes_monthly') }}

{{ sdc_monthly_aggregate(
    'fct_crime_outcomes',
    'police_uk_crime_outcomes',
    'crime_outcome_count',
    month_column='outcome_month',
    category_column='outcome_type',
    ward_from='lsoa',
) }}
