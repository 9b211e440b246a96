-- Layering holds: sources are read only by staging models, and staging models only by the privacy
-- boundary (models/suppressed). Checked on the project graph, so a new model that reads staging or a
-- source directly fails here. Returns one row per offending dependency.
{%- set offending = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type in ['model', 'snapshot'] and node.package_name == project_name -%}
            {%- set path = node.original_file_path -%}
            {%- for parent_id in node.depends_on.nodes -%}
                {%- set parent = graph.nodes.get(parent_id) -%}
                {%- if parent_id.startswith('source.') and not path.startswith('models/staging/') -%}
                    {%- do offending.append((node.unique_id, parent_id)) -%}
                {%- elif parent is not none
                    and parent.original_file_path.startswith('models/staging/')
                    and not path.startswith('models/suppressed/') -%}
                    {%- do offending.append((node.unique_id, parent_id)) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with

offending_dependencies as (
    select
        null::text as reader,
        null::text as read_node
    where false
    {%- for reader, read_node in offending %}
    union all
    select
        '{{ reader }}' as reader,
        '{{ read_node }}' as read_node
    {%- endfor %}
)

select * from offending_dependencies
