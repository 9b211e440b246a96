{{ config(alias='agg_crime_victims_monthly') }}

-- every London record, those the record-level mart withholds for k-anonymity included
{{ sdc_monthly_aggregate('int_mps_crime_victims_categorised', 'mps_crime_victims', 'crime_victim_count') }}
