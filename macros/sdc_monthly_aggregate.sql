{#- A dataset's monthly aggregate as released (docs/disclosure-control.md): month x borough x category
    cells and, where the dataset places rows in wards (ward_from: 'lsoa' through dim_geography, or 'ward'
    on the fact itself), month x ward x category cells, with a 'no ward' cell per borough for the rest so
    the wards of a borough add up to it. Every count follows the dataset's rule (sdc_released_count); a
    borough's ward cells are withheld together (secondary suppression) when, read against the borough
    cell, they would pin a count down more tightly than the rule allows. Totals (every category; London)
    are sums of released cells, so they tell nothing the cells do not. The grid is complete (every month
    received x borough covered x category used, wards included), so a zero is a row like any other.

    Refreshed month by month (config month_column 'incident_month', macros/sdc_refresh.sql): a refresh
    rebuilds only the months whose facts changed, on the grid the table already has, while that grid is still
    the one the facts make; when it is not, the whole table is built again. -#}
{% macro sdc_monthly_aggregate(fact, dataset, count_column, month_column='incident_month',
                               category_column='incident_category_code', ward_from=none) -%}
{%- set rule = sdc_rule(dataset) -%}
{%- set widest_allowed = rule.rounding_base - 1 -%}
{%- set refresh = model_refresh_plan() -%}
{%- if refresh is not none and refresh.months and not sdc_grid_holds(
        sdc_placed_rows(fact, month_column, category_column, ward_from, refresh), refresh, count_column) -%}
    {%- set refresh = none -%}
{%- endif -%}
with

{{ sdc_placed_rows(fact, month_column, category_column, ward_from, refresh) }},

boroughs as (
    select * from {{ ref('london_boroughs') }}
),

months as (
    select distinct incident_month from facts
),
{%- if refresh is none %}

covered_boroughs as (
    select distinct borough_code from facts
),

categories as (
    select distinct category_code from facts
),

-- wards a fact names that the loaded lookup does not (or none is loaded): named by their code
unlisted_wards as (
    select * from placed_unlisted_wards
),
{%- else %}

-- a refresh keeps the grid the table has (sdc_grid_holds): that of a month it does not rebuild
kept_grid as (
    select * from {{ this }}
    where
        incident_month = ({{ sdc_kept_month(refresh) }})
        and category_level = 'category'
),

covered_boroughs as (
    select distinct borough_code from kept_grid
    where geography_level = 'borough'
),

categories as (
    select distinct category_code from kept_grid
    where geography_level = 'borough'
),

kept_unlisted as (
    {{ sdc_unlisted_ward_cells('kept_grid') }}
),

unlisted_wards as (
    select distinct
        geography_code as ward_code,
        geography_name as ward_name,
        borough_code
    from kept_unlisted
),
{%- endif %}

borough_counts as (
    select
        incident_month,
        borough_code,
        category_code,
        count(*) as true_count
    from facts
    group by 1, 2, 3
),

borough_cells as (
    select
        months.incident_month,
        covered_boroughs.borough_code,
        categories.category_code,
        coalesce(borough_counts.true_count, 0) as true_count
    from months
    cross join covered_boroughs
    cross join categories
    left join borough_counts
        on
            months.incident_month = borough_counts.incident_month
            and covered_boroughs.borough_code = borough_counts.borough_code
            and categories.category_code = borough_counts.category_code
),

borough_released as (
    select
        incident_month,
        borough_code,
        category_code,
        {{ sdc_released_count('true_count', dataset) }} as released_count,
        {{ sdc_count_bounds('true_count', dataset, 'lower') }} as lower_bound,
        {{ sdc_count_bounds('true_count', dataset, 'upper') }} as upper_bound
    from borough_cells
),

known_wards as (
    select lookup_wards.*
    from lookup_wards
    inner join covered_boroughs
        on lookup_wards.borough_code = covered_boroughs.borough_code
),

ward_list as (
    select * from known_wards
    union all
    select * from unlisted_wards
    union all
    select
        borough_code || '/no-ward' as ward_code,
        'No ward recorded' as ward_name,
        borough_code
    from covered_boroughs
),

ward_counts as (
    select
        incident_month,
        borough_code,
        ward_code,
        category_code,
        count(*) as true_count
    from placed
    group by 1, 2, 3, 4
),

ward_cells as (
    select
        months.incident_month,
        ward_list.borough_code,
        ward_list.ward_code,
        ward_list.ward_name,
        categories.category_code,
        coalesce(ward_counts.true_count, 0) as true_count
    from months
    cross join ward_list
    cross join categories
    left join ward_counts
        on
            months.incident_month = ward_counts.incident_month
            and ward_list.borough_code = ward_counts.borough_code
            and ward_list.ward_code = ward_counts.ward_code
            and categories.category_code = ward_counts.category_code
    {%- if not ward_from %}
    where false
    {%- endif %}
),

ward_released as (
    select
        *,
        {{ sdc_released_count('true_count', dataset) }} as released_count,
        {{ sdc_count_bounds('true_count', dataset, 'lower') }} as lower_bound,
        {{ sdc_count_bounds('true_count', dataset, 'upper') }} as upper_bound
    from ward_cells
),

-- a borough's wards add up to the borough: what each ward cell's bounds become once read against the
-- borough cell and the other wards (the exact projection for one sum)
ward_groups as (
    select
        incident_month,
        borough_code,
        category_code,
        sum(lower_bound) as wards_lower,
        sum(upper_bound) as wards_upper
    from ward_released
    group by 1, 2, 3
),

ward_differenced as (
    select
        ward_released.incident_month,
        ward_released.borough_code,
        ward_released.category_code,
        ward_released.upper_bound - ward_released.lower_bound as own_width,
        least(
            ward_released.upper_bound,
            borough_released.upper_bound - (ward_groups.wards_lower - ward_released.lower_bound)
        )
        - greatest(
            ward_released.lower_bound,
            borough_released.lower_bound - (ward_groups.wards_upper - ward_released.upper_bound)
        ) as differenced_width
    from ward_released
    inner join ward_groups
        on
            ward_released.incident_month = ward_groups.incident_month
            and ward_released.borough_code = ward_groups.borough_code
            and ward_released.category_code = ward_groups.category_code
    inner join borough_released
        on
            ward_released.incident_month = borough_released.incident_month
            and ward_released.borough_code = borough_released.borough_code
            and ward_released.category_code = borough_released.category_code
    union all
    select
        borough_released.incident_month,
        borough_released.borough_code,
        borough_released.category_code,
        borough_released.upper_bound - borough_released.lower_bound as own_width,
        least(borough_released.upper_bound, ward_groups.wards_upper)
        - greatest(borough_released.lower_bound, ward_groups.wards_lower) as differenced_width
    from borough_released
    inner join ward_groups
        on
            borough_released.incident_month = ward_groups.incident_month
            and borough_released.borough_code = ward_groups.borough_code
            and borough_released.category_code = ward_groups.category_code
),

withheld_groups as (
    select distinct
        incident_month,
        borough_code,
        category_code
    from ward_differenced
    where differenced_width < least(own_width, {{ widest_allowed }})
),

cells as (
    select
        borough_released.incident_month,
        'borough' as geography_level,
        borough_released.borough_code as geography_code,
        boroughs.borough_name as geography_name,
        borough_released.borough_code,
        borough_released.category_code,
        borough_released.released_count,
        case when borough_released.released_count is null then 'primary' end as suppression
    from borough_released
    inner join boroughs
        on borough_released.borough_code = boroughs.borough_code
    union all
    select
        ward_released.incident_month,
        'ward' as geography_level,
        ward_released.ward_code as geography_code,
        ward_released.ward_name as geography_name,
        ward_released.borough_code,
        ward_released.category_code,
        case when withheld_groups.borough_code is null then ward_released.released_count end as released_count,
        case
            when withheld_groups.borough_code is not null then 'secondary'
            when ward_released.released_count is null then 'primary'
        end as suppression
    from ward_released
    left join withheld_groups
        on
            ward_released.incident_month = withheld_groups.incident_month
            and ward_released.borough_code = withheld_groups.borough_code
            and ward_released.category_code = withheld_groups.category_code
),

-- totals are sums of what the cells release, never of the true counts
category_totals as (
    select
        incident_month,
        geography_level,
        geography_code,
        geography_name,
        borough_code,
        'all' as category_code,
        coalesce(sum(released_count), 0)::bigint as released_count,
        null::text as suppression
    from cells
    group by 1, 2, 3, 4, 5
),

london_totals as (
    select
        incident_month,
        'london' as geography_level,
        'E12000007' as geography_code,
        'London' as geography_name,
        null::text as borough_code,
        coalesce(category_code, 'all') as category_code,
        coalesce(sum(released_count), 0)::bigint as released_count,
        null::text as suppression
    from cells
    where geography_level = 'borough'
    group by grouping sets ((incident_month, category_code), (incident_month))
),

released as (
    select
        *,
        'category' as category_level,
        false as is_total
    from cells
    union all
    select
        *,
        'all' as category_level,
        true as is_total
    from category_totals
    union all
    select
        *,
        case when category_code = 'all' then 'all' else 'category' end as category_level,
        true as is_total
    from london_totals
),

final as (
    select
        incident_month,
        geography_level,
        geography_code,
        geography_name,
        borough_code,
        category_level,
        category_code,
        case when category_level = 'category' then 'all' end as parent_category_code,
        released_count as {{ count_column }},
        released_count is null as {{ count_column }}_suppressed,
        suppression,
        is_total
    from released
)

select * from final
{%- endmacro %}


{#- The CTEs `facts` (the fact's rows of the months a refresh rebuilds, or of every month), `geography`,
    `placed` (each row in its ward, or its borough's 'no ward'), `lookup_wards` (the wards of the loaded lookup)
    and `placed_unlisted_wards` (wards the rows name that the lookup does not) of sdc_monthly_aggregate. -#}
{% macro sdc_placed_rows(fact, month_column, category_column, ward_from, refresh) -%}
facts as (
    select
        {{ month_column }} as incident_month,
        borough_code,
        coalesce({{ category_column }}::text, 'unknown') as category_code,
        {%- if ward_from == 'lsoa' %}
        lsoa_code as ward_key
        {%- elif ward_from == 'ward' %}
        ward_code as ward_key
        {%- else %}
        null::text as ward_key
        {%- endif %}
    from {{ ref(fact) }}
    where
        borough_code is not null and {{ month_column }} is not null
        {%- if refresh is not none %}
        and {{ in_months(month_column, refresh) }}
        {%- endif %}
),

geography as (
    select * from {{ ref('dim_geography') }}
),

-- rows placed in a ward of their borough; the rest count in the borough's 'no ward' cell
placed as (
    select
        facts.incident_month,
        facts.borough_code,
        facts.category_code,
        {%- if ward_from == 'lsoa' %}
        coalesce(lsoas.ward_code, facts.borough_code || '/no-ward') as ward_code
        {%- else %}
        coalesce(facts.ward_key, facts.borough_code || '/no-ward') as ward_code
        {%- endif %}
    from facts
    {%- if ward_from == 'lsoa' %}
    left join geography as lsoas
        on
            lsoas.geography_level = 'lsoa'
            and facts.ward_key = lsoas.lsoa_code
            and facts.borough_code = lsoas.borough_code
    {%- endif %}
),

lookup_wards as (
    select
        ward_code,
        ward_name,
        borough_code
    from geography
    where geography_level = 'ward'
),

placed_unlisted_wards as (
    select distinct
        placed.ward_code,
        placed.ward_code as ward_name,
        placed.borough_code
    from placed
    left join lookup_wards
        on placed.ward_code = lookup_wards.ward_code and placed.borough_code = lookup_wards.borough_code
    where lookup_wards.ward_code is null and placed.ward_code <> placed.borough_code || '/no-ward'
)
{%- endmacro %}
