{#- A release candidate refreshed month by month (macros/sdc_monthly_aggregate.sql). Every month of it holds the
    same grid: the boroughs covered, the categories used and the wards named by the facts of every month. A
    refresh rebuilds the months whose facts changed on the grid the table has, which is right only while that
    grid is still the one the facts make: the rebuilt months bring nothing new to it, and everything in it is
    still seen in a month kept or rebuilt. Otherwise the table is built whole. -#}

{#- A query of the first month the table holds that `refresh` does not rebuild (none when it rebuilds all). -#}
{% macro sdc_kept_month(refresh) -%}
    select min(incident_month) from {{ this }} where not {{ in_months('incident_month', refresh) }}
{%- endmacro %}

{#- Whether the candidate being compiled may rebuild the months of `refresh` on the grid it has; when not, its
    record of being built is forgotten, so that the materialization builds it whole. `placed_ctes` are the
    aggregate's CTEs over the rebuilt months' facts (sdc_placed_rows); `count_column` its released count.
    What a kept month shows is read from its released cells: a borough cell other than 0 has records (no
    count above the threshold rounds to 0: sdc_rule), and so has a ward cell withheld as 1..threshold
    (primary suppression); a ward cell withheld with its borough's (secondary) tells nothing, so an unlisted
    ward seen only in such cells and in no rebuilt month has the table built whole. -#}
{% macro sdc_grid_holds(placed_ctes, refresh, count_column) -%}
    {%- set query -%}
        with
        {{ placed_ctes }},
        kept as (
            select * from {{ this }}
            where
                not {{ in_months('incident_month', refresh) }}
                and category_level = 'category'
                and geography_level in ('borough', 'ward')
        ),
        kept_unlisted as (
            {{ sdc_unlisted_ward_cells('kept') }}
        ),
        kept_month as (
            select min(incident_month) as incident_month from kept
        ),
        grid as (
            select 'borough ' || borough_code as member from kept
            where geography_level = 'borough' and incident_month = (select incident_month from kept_month)
            union
            select 'category ' || category_code from kept
            where geography_level = 'borough' and incident_month = (select incident_month from kept_month)
            union
            select 'ward ' || borough_code || ' ' || geography_code from kept_unlisted
            where incident_month = (select incident_month from kept_month)
        ),
        seen as (
            select 'borough ' || borough_code as member from facts
            union
            select 'category ' || category_code from facts
            union
            select 'ward ' || borough_code || ' ' || ward_code from placed_unlisted_wards
            union
            select 'borough ' || borough_code from kept
            where geography_level = 'borough' and {{ count_column }} is distinct from 0
            union
            select 'category ' || category_code from kept
            where geography_level = 'borough' and {{ count_column }} is distinct from 0
            union
            select 'ward ' || borough_code || ' ' || geography_code from kept_unlisted
            where {{ count_column }} > 0 or suppression = 'primary'
        )
        select
            (select incident_month from kept_month) is not null
            and not exists (
                (select member from grid except select member from seen)
                union all
                (select member from seen except select member from grid)
            )
    {%- endset -%}
    {%- set holds = run_query(query).columns[0].values()[0] -%}
    {%- if not holds -%}
        {% call statement('sdc_build_whole', auto_begin=true) -%}
            update private.built_models set fingerprint = null
            where model = '{{ this.schema ~ "." ~ this.identifier }}'
        {%- endcall %}
        {% do adapter.commit() %}
        {{ log("sdc_grid_holds " ~ this ~ ": the grid changed, built whole", info=false) }}
    {%- endif -%}
    {{ return(holds) }}
{%- endmacro %}

{#- The ward cells of `cells` (rows of a candidate, with `lookup_wards` in scope) for wards the loaded lookup
    does not list, other than a borough's 'no ward'. -#}
{% macro sdc_unlisted_ward_cells(cells) -%}
    select {{ cells }}.* from {{ cells }}
    left join lookup_wards
        on {{ cells }}.geography_code = lookup_wards.ward_code and {{ cells }}.borough_code = lookup_wards.borough_code
    where
        {{ cells }}.geography_level = 'ward'
        and lookup_wards.ward_code is null
        and {{ cells }}.geography_code <> {{ cells }}.borough_code || '/no-ward'
{%- endmacro %}
