-- One row per day from 2010-01-01 to 2031-03-31: every calendar year 2010-2030 and every UK financial
-- year 2010/11-2030/31 whole. The earliest data the platform takes starts in 2010 (MPS borough crime
-- April 2010, police.uk street-level crime December 2010); extend the end before 2031 comes.
with

days as (
    select series.series_day::date as date_day
    from generate_series('2010-01-01'::date, '2031-03-31'::date, interval '1 day') as series (series_day)
),

bank_holidays as (
    select * from {{ ref('bank_holidays_england_wales') }}
),

attributes as (
    select
        days.date_day,
        bank_holidays.holiday_name as bank_holiday_name,
        date_trunc('month', days.date_day)::date as month_start,
        extract(year from days.date_day)::integer as year,  -- noqa: RF04
        extract(month from days.date_day)::integer as month_number,
        to_char(days.date_day, 'FMMonth') as month_name,
        extract(quarter from days.date_day)::integer as quarter,  -- noqa: RF04
        -- UK financial year: April to March, named by its two calendar years ('2025/26').
        case
            when extract(month from days.date_day) >= 4 then extract(year from days.date_day)::integer
            else extract(year from days.date_day)::integer - 1
        end as financial_year_start_year,
        extract(isoyear from days.date_day)::integer as iso_year,
        extract(week from days.date_day)::integer as iso_week,
        to_char(days.date_day, 'FMDay') as day_of_week_name,
        extract(isodow from days.date_day)::integer as day_of_week_number,
        extract(isodow from days.date_day) in (6, 7) as is_weekend,
        bank_holidays.holiday_date is not null as is_uk_bank_holiday
    from days
    left join bank_holidays
        on days.date_day = bank_holidays.holiday_date
),

named_financial_years as (
    select
        attributes.*,
        attributes.financial_year_start_year::text
        || '/'
        || lpad(((attributes.financial_year_start_year + 1) % 100)::text, 2, '0') as financial_year
    from attributes
),

final as (
    select
        date_day,
        month_start,
        year,
        month_number,
        month_name,
        quarter,
        financial_year,
        financial_year_start_year,
        iso_year,
        iso_week,
        day_of_week_name,
        day_of_week_number,
        is_weekend,
        is_uk_bank_holiday,
        bank_holiday_name
    from named_financial_years
)

select * from final
