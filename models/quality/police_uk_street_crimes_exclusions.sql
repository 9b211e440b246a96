-- police.uk street-level crime rows kept out of the London marts, counted per dataset, agency, month and
-- reason, so that every active row is either in a mart or counted here.
with

street_crimes as (
    select * from {{ ref('police_uk_street_crimes') }}
),

exclusions as (
    {{ excluded_rows('police_uk_street_crimes', 'street_crimes', 'crime_month') }}
)

select * from exclusions
