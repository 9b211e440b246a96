{#- During a refresh (var 'warehouse_fingerprint' set), the loads a test of a load-by-load table (e.g.
    'suppressed.police_uk_street_crimes'; macros/materialization_loads_table.sql) or of the staging view it is
    built from reads, as a list of load ids: the loads this dbt invocation (re)inserted into the table, and
    the active loads the table does not hold yet (a staging view's tests run before the table is rebuilt).
    None, meaning every load, outside a refresh, at parse time, or for a table not built load by load. -#}
{% macro refresh_changed_loads(loads_table) -%}
    {%- if not execute or var('warehouse_fingerprint', none) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set known = run_query("select count(*) from private.built_models where model = '" ~ loads_table ~ "'") -%}
    {%- if known.columns[0].values()[0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set loads -%}
        select load_id from private.built_loads
        where model = '{{ loads_table }}' and invocation_id = '{{ invocation_id }}'
        union
        select load_id from ({{ loads_not_built(loads_table.split('.')[1], loads_table) }}) as not_built_yet
        order by 1
    {%- endset -%}
    {{ return(run_query(loads).columns[0].values() | list) }}
{%- endmacro %}

{#- The active loads of raw `dataset` that the load-by-load table `loads_table` does not hold as they are (by id
    and file checksum): a query of (load_id, sha256). -#}
{% macro loads_not_built(dataset, loads_table) -%}
    select load_id, sha256 from {{ source('ingest', 'loads') }}
    where dataset = '{{ dataset }}' and status = '{{ var("active_load_status") }}'
    except
    select load_id, sha256 from private.built_loads where model = '{{ loads_table }}'
{%- endmacro %}

{#- Record that the load-by-load table `loads_table` holds the loads whose ids `load_ids` (a query) returns,
    inserted by this dbt invocation. -#}
{% macro record_built_loads(loads_table, load_ids) -%}
    insert into private.built_loads (model, load_id, sha256, invocation_id)
    select '{{ loads_table }}', loads.load_id, loads.sha256, '{{ invocation_id }}'
    from {{ source('ingest', 'loads') }} as loads
    where loads.load_id in ({{ load_ids }})
{%- endmacro %}

{#- The SQL condition that a row's `column` is one of `loads` (refresh_changed_loads), or true when it is none. -#}
{% macro in_loads(column, loads) -%}
    {%- if loads is none -%}
        true
    {%- elif loads | length == 0 -%}
        false
    {%- else -%}
        {{ column }} = any(array[{{ loads | join(', ') }}]::bigint[])
    {%- endif -%}
{%- endmacro %}

{#- The ids of the active loads of raw `dataset` that meet `condition` (on load_id), as a query: the loads a build
    of the dataset's load-by-load table holds, a load whose rows were all rejected (or a file with none) included,
    so that it is not taken for a load still to build at every refresh. -#}
{% macro active_loads_of(dataset, condition) -%}
    select load_id from {{ source('ingest', 'loads') }}
    where dataset = '{{ dataset }}' and status = '{{ var("active_load_status") }}' and {{ condition }}
{%- endmacro %}
