-- The privacy boundary for MPS perpetrators (suspects): crime ids become the same keyed pseudonyms as in
-- police_uk_street_crimes, people are described only by broad ethnic group, sex and age band, and each row
-- is placed in a London borough or marked as not placeable.
{{ config(month_column='recorded_month') }}
{{ mps_person_suppressed('perpetrator') }}
