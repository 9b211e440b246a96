-- The ingest's cheapest row checks in C (safestats_checks.c).
create function plain_number_between(value text, low float8, high float8) returns boolean
    as 'MODULE_PATHNAME', 'plain_number_between' language c immutable strict parallel safe;
