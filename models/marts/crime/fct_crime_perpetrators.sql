-- One row per perpetrator of an MPS recorded crime placed in a London borough: as far as k-anonymity over every
-- quasi-identifier allows (int_mps_crime_perpetrators_generalised), the perpetrator's number within the crime, the
-- crime's incident category (or its group) and knife flag, and the perpetrator's broad ethnic group, sex and age
-- band. The records of a borough and month with fewer than k in all are withheld (counted in
-- quality.mps_crime_perpetrators_exclusions).
{{ config(month_column='incident_month') }}
{{ mps_person_record_mart('perpetrator') }}
