-- ONS LSOA centroid rows of every active load (one per boundaries vintage), trimmed and typed, with the
-- vintage each row belongs to and whether it is the latest one.
with

source as (
    select * from {{ source('ons', 'lsoa_centroids') }}
),

active_loads as (
    {{ active_loads('ons', 'lsoa_centroids') }}
),

vintages as (
    select
        load_id,
        agency,
        period as boundaries_vintage_month,
        row_number() over (order by period desc, load_id desc) = 1 as is_latest_vintage
    from active_loads
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        vintages.agency,
        vintages.boundaries_vintage_month,
        vintages.is_latest_vintage,
        upper({{ nullif_blank('source.lsoa_code') }}) as lsoa_code,
        {{ nullif_blank('source.lsoa_name') }} as lsoa_name,
        {{ extract_value('source.longitude', 'longitude') }} as longitude,
        {{ extract_value('source.latitude', 'latitude') }} as latitude,
        source._loaded_at as loaded_at
    from source
    inner join vintages
        on source._load_id = vintages.load_id
)

select * from renamed
