{{ config(alias='agg_ambulance_violence_dispatches_monthly') }}

{{ sdc_monthly_aggregate(
    'int_las_dispatches_categorised',
    'las_violence_dispatches',
    'ambulance_violence_dispatch_count',
    ward_from='lsoa',
) }}
