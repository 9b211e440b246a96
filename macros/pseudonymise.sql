{#- Keyed pseudonym of an identifier: lower-case hex HMAC-SHA256 under the per-install key.
    The key is stored as its HMAC pads (K zero-padded to 64 bytes, XOR 0x36 / 0x5c), so the HMAC is
    sha256(outer_pad || sha256(inner_pad || message)) with the built-in sha256(bytea): no pgcrypto.
    The same identifier gives the same pseudonym within an install and an unrelated one elsewhere.
    NULL or blank in -> NULL out (the identifier is trimmed first). The scalar sub-queries fail the
    query if the key table holds more than one row; an empty key table is caught by the
    pseudonymisation_key_is_well_formed test on staging before anything downstream is built. -#}
{% macro pseudonymise(identifier, key_relation=none) -%}
    {%- set key_relation = key_relation or var('pseudonymisation_key_relation', 'private.pseudonymisation_key') -%}
    {%- set message = nullif_blank(identifier) -%}
    case
        when {{ message }} is not null
            then encode(
                sha256(
                    (select hmac_key.outer_pad from {{ key_relation }} as hmac_key)
                    || sha256(
                        (select hmac_key.inner_pad from {{ key_relation }} as hmac_key)
                        || convert_to({{ message }}, 'UTF8')
                    )
                ),
                'hex'
            )
    end
{%- endmacro %}
