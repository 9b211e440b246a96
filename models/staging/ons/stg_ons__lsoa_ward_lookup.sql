-- ONS LSOA -> ward -> local authority lookup rows of every active load (one per vintage), trimmed and
-- renamed, with the vintage each row belongs to and whether it is the latest one.
with

source as (
    select * from {{ source('ons', 'lsoa_ward_lookup') }}
),

active_loads as (
    {{ active_loads('ons', 'lsoa_ward_lookup') }}
),

vintages as (
    select
        load_id,
        agency,
        period as lookup_vintage_month,
        -- Several vintages can be active at once (each is its own period): the latest month wins,
        -- and of two loads of one month (cannot happen: a revision supersedes) the latest load.
        row_number() over (order by period desc, load_id desc) = 1 as is_latest_vintage
    from active_loads
),

renamed as (
    select
        source._load_id as load_id,
        source._source_row_number as source_row_number,
        vintages.agency,
        vintages.lookup_vintage_month,
        vintages.is_latest_vintage,
        upper({{ nullif_blank('source.lsoa_code') }}) as lsoa_code,
        {{ nullif_blank('source.lsoa_name') }} as lsoa_name,
        upper({{ nullif_blank('source.ward_code') }}) as ward_code,
        {{ nullif_blank('source.ward_name') }} as ward_name,
        upper({{ nullif_blank('source.borough_code') }}) as borough_code,
        {{ nullif_blank('source.borough_name') }} as borough_name,
        source._loaded_at as loaded_at
    from source
    inner join vintages
        on source._load_id = vintages.load_id
)

select * from renamed
