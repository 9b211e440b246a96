{{ config(alias='agg_ed_assault_attendances_monthly') }}

{{ sdc_monthly_aggregate('fct_ed_assault_attendances', 'istv_assault_attendances', 'ed_assault_attendance_count') }}
