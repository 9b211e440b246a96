-- raw.plain_number_between(value, low, high), in SQL: the same test as extension/safestats_checks.c, for a
-- server without that module (warehouse.install_number_checks installs one or the other). True when the value
-- is written as a plain decimal of at most 15 characters (an optional minus, digits, and optionally a point
-- followed by digits) and lies inside (low, high), short of either end by a margin far wider than any rounding.
-- A fast path for the ingest's coordinate checks: what it refuses is judged by the exact test
-- (raw.extract_number against the band). Not strict, so that PostgreSQL inlines it into the COPY's WHERE.
create or replace function raw.plain_number_between(value text, low float8, high float8) returns boolean
    language sql immutable parallel safe as $f$
    select coalesce(
        (case when length(value) <= 15 and value ~ '^-?[0-9]+(\.[0-9]+)?$' then value end)::float8
            > low + 1e-9 * (1 + abs(low) + abs(high))
        and (case when length(value) <= 15 and value ~ '^-?[0-9]+(\.[0-9]+)?$' then value end)::float8
            < high - 1e-9 * (1 + abs(low) + abs(high)),
        false)
$f$;
