-- The privacy boundary for ISTV A&E assault attendances: both free-text columns (the 'other' means of
-- assault and the place of the assault) are dropped, arrival and assault times are kept to the hour, and
-- the only row identifier is a keyed pseudonym of the row's place in its file. Whether each free text was
-- given passes as a boolean (the hospital data-quality reports measure its completeness), never the text.
{{ config(month_column='arrival_month') }}
with

attendances as (
    select * from {{ ref('stg_istv__assault_attendances') }}
),

suppressed as (
    select
        {{ pseudonymise("load_id::text || '-' || source_row_number::text") }} as attendance_key,
        load_id,
        agency,
        site_code,
        period_month,
        arrival_date,
        date_trunc('month', arrival_date)::date as arrival_month,
        extract(hour from arrival_time)::integer as arrival_hour,
        assault_date,
        extract(hour from assault_time)::integer as assault_hour,
        assault_method_code,
        location_type_code,
        assault_method_other is not null as assault_method_other_given,
        location_description is not null as location_description_given,
        case
            when row_site_code = site_code then 'ok'
            else 'site_code_mismatch'
        end as site_status
    from attendances
)

select * from suppressed
