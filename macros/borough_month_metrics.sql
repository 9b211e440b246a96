{#- The semantic layer's metrics derived from one count (semantic/_derived_metrics.yml: the rate per 1,000
    residents, the changes on the previous month and on the same month a year before, the rolling 12 months),
    by borough and month, as a table the dashboards read: MetricFlow's compiled query for them joins every
    record of the count to every month of its time spine, seconds at ten years, on every chart request.
    Each value is the one MetricFlow gives for the borough and month (tests/test_semantic.py compares them);
    the rows are the months with a count in any borough, for every borough with a count or residents then.

    `counts`: a query of (metric_time__month, borough, <count_name>), one row per month and borough with any.
    `count_name`: the count metric; the metrics made are those its config.meta.derived names. -#}
{% macro borough_month_metrics(counts, count_name) -%}
{%- set known = ['rate_per_1000', 'mom_change', 'yoy_change', 'rolling_12_months'] -%}
{%- set derived = known -%}
{%- if execute -%}
    {%- set metric = graph.metrics.get('metric.' ~ project_name ~ '.' ~ count_name) -%}
    {%- if metric is none -%}
        {{ exceptions.raise_compiler_error(count_name ~ ": no such metric in the semantic layer") }}
    {%- endif -%}
    {%- set derived = metric.config.meta.get('derived') or [] -%}
{%- endif -%}
{%- for kind in derived if kind not in known -%}
    {{ exceptions.raise_compiler_error(count_name ~ ": no SQL for the derived metric kind " ~ kind) }}
{%- endfor -%}
with

-- the month as a timestamp without a time zone and the count as a bigint (sum() makes it numeric): a month is
-- the same in any session's time zone; Superset converts a zoned timestamp one value at a time (about 0.04 s of
-- a request for ten years of 33 boroughs' months), and aggregates Decimals one at a time where it aggregates
-- numbers in one pass (superset/safestats_superset/postprocessing.py)
counts as (
    select
        cast(given.metric_time__month as timestamp) as metric_time__month,
        given.borough,
        cast(given.{{ count_name }} as bigint) as {{ count_name }}
    from ({{ counts }}) as given
),

population as (
    select
        cast(date_trunc('month', population_month) as timestamp) as metric_time__month,
        borough_code as borough,
        sum(population / 1000.0) as residents_thousands
    from {{ ref('dim_borough_month_population') }}
    group by 1, 2
),

boroughs as (
    select * from {{ ref('dim_boroughs') }}
),

months as (
    select distinct metric_time__month from counts
),

grid as (
    select
        months.metric_time__month,
        places.borough
    from months
    cross join (select borough from counts union select borough from population) as places
),

windowed as (
    select
        grid.metric_time__month,
        grid.borough,
        cast(sum(earlier.{{ count_name }}) as bigint) as rolling_12_months
    from grid
    inner join counts as earlier
        on
            grid.borough = earlier.borough
            and earlier.metric_time__month <= grid.metric_time__month
            and earlier.metric_time__month > grid.metric_time__month - interval '1 year'
    group by 1, 2
),

final as (
    select
        grid.metric_time__month,
        grid.borough,
        boroughs.borough_name as borough__borough_name,
        boroughs.iso_3166_2_code as borough__iso_3166_2_code,
        this_month.{{ count_name }},
        population.residents_thousands
        {%- if 'mom_change' in derived %},
        this_month.{{ count_name }} - month_before.{{ count_name }} as {{ count_name }}_mom_change
        {%- endif %}
        {%- if 'rolling_12_months' in derived %},
        windowed.rolling_12_months as {{ count_name }}_rolling_12_months
        {%- endif %}
        {%- if 'yoy_change' in derived %},
        this_month.{{ count_name }} - year_before.{{ count_name }} as {{ count_name }}_yoy_change
        {%- endif %}
        {%- if 'rate_per_1000' in derived %},
        cast(this_month.{{ count_name }} as double precision)
        / cast(nullif(population.residents_thousands, 0) as double precision)
            as {{ count_name[:-('_count' | length)] }}_rate_per_1000
        {%- endif %}
    from grid
    left join counts as this_month
        on grid.metric_time__month = this_month.metric_time__month and grid.borough = this_month.borough
    left join counts as month_before
        on
            month_before.metric_time__month = grid.metric_time__month - interval '1 month'
            and grid.borough = month_before.borough
    left join counts as year_before
        on
            year_before.metric_time__month = grid.metric_time__month - interval '1 year'
            and grid.borough = year_before.borough
    left join population
        on grid.metric_time__month = population.metric_time__month and grid.borough = population.borough
    left join windowed
        on grid.metric_time__month = windowed.metric_time__month and grid.borough = windowed.borough
    left join boroughs
        on grid.borough = boroughs.borough_code
    where
        this_month.{{ count_name }} is not null
        or population.residents_thousands is not null
        or windowed.rolling_12_months is not null
)

select * from final
{%- endmacro %}
