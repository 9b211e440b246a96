-- The emergency department sites that send ISTV files, with their trust and borough.
with

sites as (
    select * from {{ ref('hospital_sites') }}
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

final as (
    select
        sites.site_code,
        sites.site_name,
        sites.trust_code,
        sites.trust_name,
        sites.borough_code,
        boroughs.borough_name
    from sites
    inner join boroughs
        on sites.borough_code = boroughs.borough_code
)

select * from final
