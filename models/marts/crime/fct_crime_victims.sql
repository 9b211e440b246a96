-- One row per victim of an MPS recorded crime placed in a London borough: as far as k-anonymity over every
-- quasi-identifier allows (int_mps_crime_victims_generalised), the victim's number within the crime, the
-- crime's incident category (or its group) and knife flag, and the victim's broad ethnic group, sex and age
-- band. The records of a borough and month with fewer than k in all are withheld (counted in
-- quality.mps_crime_victims_exclusions).
{{ config(month_column='incident_month') }}
{{ mps_person_record_mart('victim') }}
