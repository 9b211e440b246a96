{#- The quasi-identifiers a record-level mart declares in its YAML (meta.quasi_identifiers): every column a
    reader can group by that narrows a group of records. Read from the project graph so the k-anonymity
    check counts exactly the columns the YAML names; outside execution (parsing, linting) a placeholder. -#}
{% macro quasi_identifiers(model_name) -%}
    {%- set declared = ['incident_month'] -%}
    {%- if execute -%}
        {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ model_name] -%}
        {%- set declared = node.config.meta.get('quasi_identifiers') or node.meta.get('quasi_identifiers') -%}
        {%- if not declared -%}
            {%- do exceptions.raise_compiler_error(model_name ~ ' declares no meta.quasi_identifiers in its YAML') -%}
        {%- endif -%}
    {%- endif -%}
    {%- do return(declared) -%}
{%- endmacro %}
