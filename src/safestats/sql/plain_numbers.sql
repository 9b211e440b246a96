-- raw.plain_number_between(value, low, high) in SQL, for a server without the C module of extension/
-- (warehouse.install_number_checks installs one or the other): true when the value is a float8 of at most 100
-- characters without an exponent, not hexadecimal, NaN or infinite (raw.extract_number reads every such text
-- as the same number), inside (low, high) and short of either end by a margin far wider than any rounding.
-- A fast path for the ingest's coordinate checks, as the C function is: what it refuses is judged by the
-- exact test (raw.extract_number against the band), so the two forms may differ in what they take here (the
-- C one takes plain decimals only) and the checks still decide alike.
-- Not strict, and stable as pg_input_is_valid is, so that PostgreSQL inlines it into the COPY's WHERE. The
-- cast applies to `(case when <valid> then value end)`, never to the bare value: the planner folds a cast of
-- a constant even in a branch never taken.
create or replace function raw.plain_number_between(value text, low float8, high float8) returns boolean
    language sql stable parallel safe as $f$
    select coalesce(width_bucket(
        (case
            when length(value) <= 100 and strpos(value, 'e') = 0 and strpos(value, 'E') = 0
                and strpos(value, 'x') = 0 and strpos(value, 'X') = 0
                and strpos(value, 'n') = 0 and strpos(value, 'N') = 0 and pg_input_is_valid(value, 'float8')
                then value
        end)::float8,
        low + 1e-9 * (1 + abs(low) + abs(high)), high - 1e-9 * (1 + abs(low) + abs(high)), 1) = 1, false)
$f$;
