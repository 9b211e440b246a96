-- The pseudonymise macro computes HMAC-SHA256: RFC 4231 test case 2 (key "Jefe", message
-- "what do ya want for nothing?") gives the published digest; surrounding white space is ignored;
-- NULL and blank give NULL.
with

key_bytes as (
    -- "Jefe" zero-padded to the 64-byte SHA-256 block, one row per byte
    select
        byte_position,
        get_byte(convert_to('Jefe', 'UTF8') || decode(repeat('00', 60), 'hex'), byte_position) as key_byte
    from generate_series(0, 63) as byte_position
),

rfc4231_key as (
    -- XOR as (a | b) - (a & b): 0x36 = 54 for the inner pad, 0x5c = 92 for the outer pad
    select
        decode(
            string_agg(lpad(to_hex((key_byte | 54) - (key_byte & 54)), 2, '0'), '' order by byte_position),
            'hex'
        ) as inner_pad,
        decode(
            string_agg(lpad(to_hex((key_byte | 92) - (key_byte & 92)), 2, '0'), '' order by byte_position),
            'hex'
        ) as outer_pad
    from key_bytes
),

cases as (
    select
        'rfc4231 case 2' as case_name,
        'what do ya want for nothing?'::text as message,
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' as expected
    union all
    select
        'surrounding white space' as case_name,
        e'  what do ya want for nothing?\t' as message,
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' as expected
    union all
    select
        'blank' as case_name,
        '   ' as message,
        null as expected
    union all
    select
        'null' as case_name,
        null as message,
        null as expected
),

computed as (
    select
        case_name,
        expected,
        {{ pseudonymise('message', key_relation='rfc4231_key') }} as actual
    from cases
)

select * from computed
where actual is distinct from expected
