-- Data quality of each ED site's ISTV file, one row per site and month the site submitted or should have
-- (the months of fct_ed_site_submissions): whether the file came and came late, the rows received, loaded
-- and rejected, and, over the loaded rows of the current file, how many left each ISB 1594 field blank, gave
-- an 'other' or unknown code, or dated the assault implausibly against the arrival (compared to the hour).
-- A row counts under the month its file reports, not the month the patient arrived.
with

submissions as (
    select * from {{ ref('fct_ed_site_submissions') }}
),

attendances as (
    select * from {{ ref('istv_assault_attendances') }}
),

methods as (
    select * from {{ ref('istv_assault_methods') }}
),

location_types as (
    select * from {{ ref('istv_location_types') }}
),

timed as (
    select
        attendances.*,
        methods.assault_method_code is null as assault_method_unlisted,
        location_types.location_type_code is null as location_type_unlisted,
        attendances.arrival_date + make_interval(hours => attendances.arrival_hour) as arrival_at,
        -- an assault without its hour is compared by its date (its last hour, so the date alone never
        -- places the assault after an arrival on the same day)
        attendances.assault_date
        + make_interval(hours => coalesce(attendances.assault_hour, 23)) as assault_at_latest,
        attendances.assault_date
        + make_interval(hours => coalesce(attendances.assault_hour, 0)) as assault_at_earliest
    from attendances
    left join methods
        on attendances.assault_method_code = methods.assault_method_code
    left join location_types
        on attendances.location_type_code = location_types.location_type_code
),

per_site_month as (
    select
        site_code,
        period_month,
        count(*) as rows_checked,
        count(*) filter (where site_status = 'site_code_mismatch') as site_code_mismatch_rows,
        count(*) filter (where arrival_date is null) as arrival_date_missing_rows,
        count(*) filter (where arrival_hour is null) as arrival_time_missing_rows,
        count(*) filter (where assault_date is null) as assault_date_missing_rows,
        count(*) filter (where assault_hour is null) as assault_time_missing_rows,
        count(*) filter (where assault_method_code is null) as assault_method_missing_rows,
        count(*) filter (where assault_method_code = '98') as assault_method_other_rows,
        count(*) filter (where assault_method_code = '99' or assault_method_unlisted) as assault_method_unknown_rows,
        count(*) filter (
            where assault_method_code = '98' and not assault_method_other_given
        ) as assault_method_other_description_missing_rows,
        count(*) filter (where location_type_code is null) as location_type_missing_rows,
        count(*) filter (where location_type_code = '98') as location_type_other_rows,
        count(*) filter (where location_type_code = '99' or location_type_unlisted) as location_type_unknown_rows,
        count(*) filter (where not location_description_given) as location_description_missing_rows,
        count(*) filter (where assault_date is not null) as assault_dated_rows,
        -- after the arrival even at the earliest hour the assault's date allows
        count(*) filter (where assault_at_earliest > arrival_at) as assault_after_arrival_rows,
        -- more than 7 days (168 hours) before the arrival even at the latest hour its date allows: a
        -- patient seldom attends a week after an assault; such a date is most likely keyed wrong
        count(*) filter (
            where assault_at_latest < arrival_at - interval '7 days'
        ) as assault_over_7_days_before_arrival_rows
    from timed
    group by site_code, period_month
),

final as (
    select
        submissions.submission_key,
        submissions.site_code,
        submissions.site_name,
        submissions.trust_code,
        submissions.borough_code,
        submissions.submission_month,
        submissions.submitted,
        submissions.arrived_late,
        submissions.loaded,
        submissions.rows_loaded,
        submissions.rows_rejected,
        -- the period dates are mandatory: the ingest rejects a row without them, and they do not pass the
        -- privacy boundary (the file's month does), so a loaded row always has them
        0::bigint as period_start_date_missing_rows,
        0::bigint as period_end_date_missing_rows,
        submissions.rows_loaded + submissions.rows_rejected as rows_received,
        coalesce(per_site_month.rows_checked, 0) as rows_checked,
        coalesce(per_site_month.site_code_mismatch_rows, 0) as site_code_mismatch_rows,
        coalesce(per_site_month.arrival_date_missing_rows, 0) as arrival_date_missing_rows,
        coalesce(per_site_month.arrival_time_missing_rows, 0) as arrival_time_missing_rows,
        coalesce(per_site_month.assault_date_missing_rows, 0) as assault_date_missing_rows,
        coalesce(per_site_month.assault_time_missing_rows, 0) as assault_time_missing_rows,
        coalesce(per_site_month.assault_method_missing_rows, 0) as assault_method_missing_rows,
        coalesce(per_site_month.assault_method_other_rows, 0) as assault_method_other_rows,
        coalesce(per_site_month.assault_method_unknown_rows, 0) as assault_method_unknown_rows,
        coalesce(
            per_site_month.assault_method_other_description_missing_rows, 0
        ) as assault_method_other_description_missing_rows,
        coalesce(per_site_month.location_type_missing_rows, 0) as location_type_missing_rows,
        coalesce(per_site_month.location_type_other_rows, 0) as location_type_other_rows,
        coalesce(per_site_month.location_type_unknown_rows, 0) as location_type_unknown_rows,
        coalesce(per_site_month.location_description_missing_rows, 0) as location_description_missing_rows,
        coalesce(per_site_month.assault_dated_rows, 0) as assault_dated_rows,
        coalesce(per_site_month.assault_after_arrival_rows, 0) as assault_after_arrival_rows,
        coalesce(
            per_site_month.assault_over_7_days_before_arrival_rows, 0
        ) as assault_over_7_days_before_arrival_rows
    from submissions
    left join per_site_month
        on
            submissions.site_code = per_site_month.site_code
            and submissions.submission_month = per_site_month.period_month
)

select * from final
