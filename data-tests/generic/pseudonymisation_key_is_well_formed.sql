{#- The per-install pseudonymisation key is one row of two 64-byte HMAC pads of the same non-zero key
    (inner_pad XOR outer_pad = 0x36 XOR 0x5c = 0x6a in every byte). Declared on the staging models,
    so that in `dbt build` a missing or broken key stops the suppressed layer, and everything after
    it, from being rebuilt: the previous marts stay as they were. -#}
{% test pseudonymisation_key_is_well_formed(model, key_relation=none) %}
{%- set key_relation = key_relation or var('pseudonymisation_key_relation', 'private.pseudonymisation_key') %}

with

key_rows as (
    select * from {{ key_relation }}
),

key_row_count as (
    select count(*) as key_row_count from key_rows
),

pad_bytes as (
    select
        get_byte(key_rows.inner_pad, byte_position) as inner_byte,
        get_byte(key_rows.outer_pad, byte_position) as outer_byte
    from key_rows
    cross join generate_series(0, 63) as byte_position
    where
        length(key_rows.inner_pad) = 64
        and length(key_rows.outer_pad) = 64
),

problems as (
    select 'expected exactly one row in {{ key_relation }}, found ' || key_row_count as problem
    from key_row_count
    where key_row_count != 1
    union all
    select 'inner_pad and outer_pad must be 64 bytes each' as problem
    from key_rows
    where length(inner_pad) != 64 or length(outer_pad) != 64
    union all
    -- XOR as (a | b) - (a & b)
    select 'inner_pad and outer_pad are not the pads of one key' as problem
    from pad_bytes
    having bool_or((inner_byte | outer_byte) - (inner_byte & outer_byte) != 106)
    union all
    select 'the key is all zero bytes' as problem
    from pad_bytes
    having bool_and(inner_byte = 54)
)

select * from problems

{% endtest %}
