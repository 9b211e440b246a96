{#- The relations this project builds past the privacy boundary (all models outside models/staging,
    and snapshots), each as {'relation': ..., 'columns': [...], 'area_points': [...]}, for the data tests
    that prove no raw identifier or point location leaks. `area_points`: the columns the model's YAML marks
    `meta: {area_point: true}`, an area's published reference point (an LSOA centroid) coarsened to 3
    decimals. Relations not built yet are skipped, and so, during a refresh, are those this dbt invocation does
    not build (the published aggregates, left to the release: their rows were scanned as the candidates they
    were copied from). Empty at parse time. -#}
{% macro privacy_scan_columns() %}
    {%- set scanned = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
            {%- if node.resource_type in ['model', 'snapshot']
                and node.package_name == project_name
                and node.config.materialized != 'ephemeral'
                and not node.original_file_path.startswith('models/staging/')
                and (var('warehouse_fingerprint', none) is none or node.unique_id in selected_resources) -%}
                {%- set relation = adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.alias
                ) -%}
                {%- if relation is not none -%}
                    {%- do scanned.append({
                        'relation': relation,
                        'columns': adapter.get_columns_in_relation(relation),
                        'area_points': node.columns.values() | selectattr('meta')
                            | selectattr('meta.area_point') | map(attribute='name') | list,
                    }) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(scanned) }}
{% endmacro %}
