-- The platform's one incident taxonomy: every fct_ mart's incident_category_code joins here.
with

incident_categories as (
    select * from {{ ref('incident_categories') }}
),

final as (
    select
        incident_category_code,
        incident_category_name,
        category_group,
        is_violence,
        description
    from incident_categories
)

select * from final
