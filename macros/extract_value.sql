{#- A raw text value read as its contract type (meta.extract.type), by the same SQL function as the ingest's
    row checks (src/safestats/sql/ingest_bookkeeping.sql), so staging reads exactly what validation accepted:
    blanks and null spellings (N/A, NULL, -) are NULL, dates are read day first whatever the DateStyle. -#}
{% macro extract_value(column, contract_type) -%}
    {%- set readers = {
        'integer': 'raw.extract_integer',
        'number': 'raw.extract_number',
        'latitude': 'raw.extract_number',
        'longitude': 'raw.extract_number',
        'date': 'raw.extract_date',
        'excel_date': 'raw.excel_date',
        'time': 'raw.extract_time',
        'timestamp': 'raw.extract_timestamp',
        'month': 'raw.extract_month',
    } -%}
    {%- if contract_type not in readers -%}
        {{ exceptions.raise_compiler_error("extract_value: no reader for the contract type '" ~ contract_type
                                           ~ "' (known: " ~ readers.keys() | join(', ') ~ ")") }}
    {%- endif -%}
    {{ readers[contract_type] }}({{ column }})
{%- endmacro %}
