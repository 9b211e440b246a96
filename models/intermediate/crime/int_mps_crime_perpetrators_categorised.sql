-- Perpetrators of MPS recorded crimes placed in a London borough, with the crime's incident category and the
-- coarser values generalisation can release (category group, wide age band). Not released as such: the
-- disclosure-controlled aggregate counts these, the record-level mart their generalisation. incident_month is
-- the month the people's table records their rows under (recorded_month): a refresh tests and scans the months
-- it changed (macros/refresh_rows.sql).
{{ config(refresh_month_column='incident_month') }}
{{ mps_person_categorised('perpetrator') }}
