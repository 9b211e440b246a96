-- The 33 London local authorities (32 boroughs and the City of London), the geography every
-- London mart rolls up to.
with

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

renamed as (
    select
        borough_code,
        borough_name,
        iso_3166_2_code,
        inner_outer
    from boroughs
)

select * from renamed
