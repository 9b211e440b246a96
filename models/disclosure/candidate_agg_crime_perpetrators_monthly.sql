{{ config(alias='agg_crime_perpetrators_monthly') }}

-- every London record, those the record-level mart withholds for k-anonymity included
{{ sdc_monthly_aggregate(
    'int_mps_crime_perpetrators_categorised', 'mps_crime_perpetrators', 'crime_perpetrator_count'
) }}
