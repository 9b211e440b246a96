-- Anti-social behaviour incidents counted by month, borough and ASB type: fct_asb_incidents summed once per
-- refreshed month, so that dashboards and the semantic layer's metrics read a few thousand rows rather than
-- every record.
{{ config(month_column='incident_month') }}
with

asb_incidents as (
    select * from {{ ref('fct_asb_incidents') }}
),

final as (
    select
        incident_month,
        borough_code,
        borough_name,
        asb_type,
        asb_subtype,
        was_attended,
        incident_category_code,
        count(*) as incident_count
    from asb_incidents
    group by 1, 2, 3, 4, 5, 6, 7
)

select * from final
