{#- The disclosure-control rule of a dataset: counts 1..threshold are suppressed, every other count is
    rounded to the nearest rounding_base. Defaults in the `sdc_defaults` var (7 and 5, the NHS HES/ECDS and
    OpenSAFELY rule); a dataset may override either in `sdc_datasets`. Returns {threshold, rounding_base}. -#}
{% macro sdc_rule(dataset) -%}
    {%- set defaults = var('sdc_defaults') -%}
    {%- set overrides = var('sdc_datasets', {}) -%}
    {%- if defaults is not mapping -%}{%- set defaults = {'threshold': 7, 'rounding_base': 5} -%}{%- endif -%}
    {%- set own = overrides.get(dataset, {}) if overrides is mapping else {} -%}
    {%- set rule = {
        'threshold': own.get('threshold', defaults['threshold']) | int,
        'rounding_base': own.get('rounding_base', defaults['rounding_base']) | int,
    } -%}
    {#- a count above the threshold is never released as 0: a 0 then always means no records (the candidates'
        month-by-month refresh reads it so: macros/sdc_refresh.sql) -#}
    {%- if 2 * (rule.threshold + 1) < rule.rounding_base -%}
        {{ exceptions.raise_compiler_error("disclosure rule of " ~ dataset ~ ": a count of " ~ (rule.threshold + 1)
            ~ " would be released as 0 (rounding base " ~ rule.rounding_base ~ " needs a threshold of at least "
            ~ ((rule.rounding_base - 1) // 2) ~ ")") }}
    {%- endif -%}
    {{- return(rule) -}}
{%- endmacro %}
