-- The ingest's bookkeeping, owned by the loader; safe to run again.
create table if not exists raw._loads (
    load_id bigint generated always as identity primary key,
    file_name text not null,
    file_path text not null,
    sha256 text not null,
    dataset text,
    agency text,
    period date,
    encoding text,
    line_ending text,
    extra_columns text[] not null default '{}',
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    status text not null check (status in ('loading', 'loaded', 'superseded', 'quarantined')),
    error text,
    superseded_by bigint references raw._loads (load_id),
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    -- row conservation: every row read is either loaded or rejected
    constraint rows_conserved check (
        status not in ('loaded', 'superseded') or rows_read = rows_loaded + rows_rejected
    ),
    constraint quarantine_has_reason check (status <> 'quarantined' or error is not null)
);
create unique index if not exists _loads_one_per_file on raw._loads (sha256) where status <> 'quarantined';
create unique index if not exists _loads_one_active_per_period on raw._loads (dataset, agency, period)
    where status = 'loaded';
-- monthly: the file holds one month (period); cumulative: the file is a publication of every month so far
-- (period NULL) and the newest one of a dataset and agency supersedes the previous one entirely.
alter table raw._loads add column if not exists coverage text not null default 'monthly';
do $$
begin
    if not exists (select from pg_constraint where conname = 'coverage_is_known'
                   and conrelid = 'raw._loads'::regclass) then
        alter table raw._loads add constraint coverage_is_known check (coverage in ('monthly', 'cumulative'));
    end if;
end
$$;
create unique index if not exists _loads_one_active_cumulative on raw._loads (dataset, agency)
    where status = 'loaded' and coverage = 'cumulative';

create table if not exists raw._rejects (
    load_id bigint not null references raw._loads (load_id),
    source_row_number bigint not null,
    reason text not null,
    record jsonb not null,
    primary key (load_id, source_row_number)
);

-- A file split across two sessions (copy_load.py): its reserved load id until the load is recorded, and
-- the rows its sessions rejected, until the load's transaction moves them to raw._rejects.
create table if not exists raw._unfinished_loads (
    load_id bigint primary key,
    dataset text not null,
    reserved_at timestamptz not null default now()
);
create table if not exists raw._pending_rejects (
    load_id bigint not null,
    source_row_number bigint not null,
    reason text not null,
    record jsonb not null,
    primary key (load_id, source_row_number)
);

-- Whether a text is valid input for a type. PostgreSQL 16 has pg_input_is_valid (cheap, inlined);
-- on 15 the same answer comes from trying the cast.
do $$
begin
    if current_setting('server_version_num')::int >= 160000 then
        create or replace function raw.input_is_valid(value text, type_name text) returns boolean
            language sql stable parallel safe
            as 'select pg_input_is_valid(value, type_name)';
    else
        create or replace function raw.input_is_valid(value text, type_name text) returns boolean
            language plpgsql immutable parallel safe as $f$
            begin
                execute format('select %L::%s', value, type_name);
                return true;
            exception when others then
                return false;
            end
            $f$;
    end if;
end
$$;

-- A text that is a valid ISO date (YYYY-M-D), as a date; NULL otherwise. Year first is ISO 8601 whatever
-- the DateStyle, and the check catches 31 Feb and the like without raising.
create or replace function raw.iso_date(iso text) returns date
    language sql stable parallel safe
    as $f$ select case when raw.input_is_valid(iso, 'date') then iso::date end $f$;

-- How the ingest's row checks and the staging models read an extract's typed text (docs/extract-contracts.md,
-- "Values"): one function per contract type, NULL for a value that is not valid and for a blank. The ingest's
-- row checks and the staging models call the same functions, so staging reads exactly what validation
-- accepted. Plain SQL (no PL/pgSQL) so that PostgreSQL inlines them; each tries the plain form first with
-- PostgreSQL's own input function and only then the slower regular expressions, since the row checks run
-- over every row of a COPY. A cast applies to `(case when <valid> then value end)`, never to the bare
-- value: the planner folds a cast of a constant even in a branch never taken, and would raise on 'x'.

-- Blank, for a typed column: empty or whitespace, or a null spelled out (NULL, N/A, NA, -; any case).
create or replace function raw.is_blank(value text) returns boolean
    language sql immutable parallel safe
    as $f$ select coalesce(upper(btrim(value, e' \t\r\n')) in ('', 'NULL', 'N/A', 'NA', '-'), true) $f$;

-- A number: 131, -0.1400, +131, .5, 1.31E+02, or with thousands separators in groups of three (1,234.5).
-- float8's input refuses PostgreSQL's own digit separators (1_000) and 0b/0o literals; the strpos calls
-- refuse hexadecimal (0x1A), NaN and infinity, which both input functions take. numeric's own test refuses
-- what float8 takes and numeric cannot hold (0e-16384, a number with 16,384 decimals): NULL, never an error
-- that would stop a whole COPY.
create or replace function raw.extract_number(value text) returns numeric
    language sql stable parallel safe as $f$
    select coalesce(
        (case
            when pg_input_is_valid(value, 'float8') and strpos(value, 'x') = 0 and strpos(value, 'X') = 0
                and strpos(value, 'n') = 0 and strpos(value, 'N') = 0 and pg_input_is_valid(value, 'numeric')
                then value
        end)::numeric,
        (case
            when value ~ '^\s*[+-]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?\s*$'
                and pg_input_is_valid(replace(value, ',', ''), 'numeric')
                then replace(value, ',', '')
        end)::numeric
    )
$f$;

-- A whole number (bigint): a number as above whose value is whole (131.0, 1e3, 1,234).
create or replace function raw.extract_integer(value text) returns bigint
    language sql stable parallel safe as $f$
    select coalesce(
        (case
            when pg_input_is_valid(value, 'int8') and pg_input_is_valid(value, 'float8')
                and strpos(value, 'x') = 0 and strpos(value, 'X') = 0
                then value
        end)::bigint,
        case
            when raw.extract_number(value) % 1 = 0
                and raw.extract_number(value) between -9223372036854775808 and 9223372036854775807
                then raw.extract_number(value)::bigint
        end
    )
$f$;

-- A text that is a valid ISO date (YYYY-M-D), as a date; NULL otherwise. Year first is ISO 8601 whatever
-- the DateStyle, and the check catches 31 Feb and the like without raising.
create or replace function raw.iso_date(iso text) returns date
    language sql stable parallel safe
    as $f$ select case when raw.input_is_valid(iso, 'date') then iso::date end $f$;

-- The plain ISO date, YYYY-MM-DD exactly: checked by shape and PostgreSQL's date input, without a regex.
create or replace function raw.plain_iso_date(value text) returns date
    language sql stable parallel safe as $f$
    select case
        when length(value) = 10 and substr(value, 5, 1) = '-' and substr(value, 8, 1) = '-'
                and pg_input_is_valid(value, 'date')
            then value::date
    end
$f$;

-- The plain day-first forms, exactly: DD/MM/YYYY, DD Mon YYYY and DD-Mon-YYYY, rewritten year first by
-- position (no regex) and checked by PostgreSQL's date input, which reads year-first text whatever the
-- DateStyle.
create or replace function raw.plain_dmy_date(value text) returns date
    language sql stable parallel safe as $f$
    select (case
        when length(value) = 10 and substr(value, 3, 1) = '/' and substr(value, 6, 1) = '/'
                and pg_input_is_valid(
                    substr(value, 7, 4) || '-' || substr(value, 4, 2) || '-' || substr(value, 1, 2), 'date')
            then substr(value, 7, 4) || '-' || substr(value, 4, 2) || '-' || substr(value, 1, 2)
        when length(value) = 11 and substr(value, 3, 1) in (' ', '-') and substr(value, 7, 1) = substr(value, 3, 1)
                and pg_input_is_valid(substr(value, 8, 4) || '-' || array_position(
                    array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
                    lower(substr(value, 4, 3)))::text || '-' || substr(value, 1, 2), 'date')
            then substr(value, 8, 4) || '-' || array_position(
                array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
                lower(substr(value, 4, 3)))::text || '-' || substr(value, 1, 2)
    end)::date
$f$;

-- A date as agencies write it: ISO (YYYY-MM-DD, optionally with a time), DD/MM/YYYY (day first, as in the
-- UK; never left to DateStyle) or DD Mon YYYY ('01 Jan 2019', or the month in full). A two-digit year is
-- not a date.
create or replace function raw.extract_date(value text) returns date
    language sql stable parallel safe as $f$
    select coalesce(raw.plain_iso_date(value), raw.plain_dmy_date(value), raw.iso_date(case
            when value ~ '^\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?\s*$'
                then case  -- a time part must be a time of day too
                    when coalesce(pg_input_is_valid(substring(value from '[ T]([0-9:.]+)\s*$'), 'time'), true)
                        then substring(value from '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}')
                end
            when value ~ '^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\s*$'
                then regexp_replace(value, '^\s*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\s*$', '\3-\2-\1')
            when value ~ '^\s*[0-9]{1,2}[ -][A-Za-z]+[ -][0-9]{4}\s*$'
                then substring(value from '([0-9]{4})\s*$') || '-' || coalesce(
                    array_position(array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct',
                                         'nov', 'dec'], lower(substring(value from '[A-Za-z]+'))),
                    array_position(array['january', 'february', 'march', 'april', 'may', 'june', 'july',
                                         'august', 'september', 'october', 'november', 'december'],
                                   lower(substring(value from '[A-Za-z]+')))
                )::text || '-' || substring(value from '[0-9]{1,2}')
        end))
$f$;

-- A date as spreadsheets write it: a date as above or an Excel serial day number from 61 (1900-03-01;
-- Excel counts a 29 Feb 1900 that never was; a fraction of a day is ignored).
create or replace function raw.excel_date(value text) returns date
    language sql stable parallel safe as $f$
    select coalesce(raw.plain_iso_date(value), raw.plain_dmy_date(value), case
        when value ~ '^\s*[0-9]{1,7}([.][0-9]+)?\s*$'
            then case
                when split_part(btrim(value, e' \t\r\n'), '.', 1)::bigint between 61 and 2958465
                    then date '1899-12-30' + split_part(btrim(value, e' \t\r\n'), '.', 1)::int
            end
        else raw.extract_date(value)
    end)
$f$;

-- A time of day written as clocks write it: H:MM or HH:MM, optionally :SS and a fraction (00:15, 9:05,
-- 00:15:23.5). PostgreSQL's own time input alone would also take '2024-01' (20:24), '1230', 'now' or
-- 'allballs': a shape check comes first, so nothing is guessed.
create or replace function raw.extract_time(value text) returns time
    language sql stable parallel safe as $f$
    select (case
        when value ~ '^\s*[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?\s*$' and pg_input_is_valid(value, 'time')
            then value
    end)::time
$f$;

-- A date and time: a date (ISO or DD/MM/YYYY) and a time of day, separated by a space or a T
-- (2024-05-01 14:30, 2024-05-01T14:30:05, 01/05/2024 14:30).
create or replace function raw.extract_timestamp(value text) returns timestamp
    language sql stable parallel safe as $f$
    select case
        when length(value) = 19 and substr(value, 5, 1) = '-' and substr(value, 8, 1) = '-'
                and substr(value, 11, 1) in (' ', 'T') and substr(value, 14, 1) = ':'
                and substr(value, 17, 1) = ':' and pg_input_is_valid(value, 'timestamp')
            then value::timestamp
        when value ~ '^\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?\s*$'
            then raw.extract_date(substring(value from '^\s*([0-9/-]+)[ T]'))
                + raw.extract_time(substring(value from '[ T]([0-9:.]+)\s*$'))
    end
$f$;

-- A month, YYYY-MM, as its first day.
create or replace function raw.extract_month(value text) returns date
    language sql stable parallel safe as $f$
    select case
        when value ~ '^\s*[0-9]{4}-(0[1-9]|1[0-2])\s*$' then to_date(btrim(value, e' \t\r\n'), 'YYYY-MM')
    end
$f$;

revoke all on function raw.iso_date(text) from public;
grant execute on function raw.iso_date(text) to safestats_dbt;
do $$
declare
    reader text;
begin
    foreach reader in array array['raw.is_blank(text)', 'raw.plain_iso_date(text)', 'raw.plain_dmy_date(text)', 'raw.extract_number(text)', 'raw.extract_integer(text)',
                                  'raw.extract_date(text)', 'raw.excel_date(text)', 'raw.extract_time(text)',
                                  'raw.extract_timestamp(text)', 'raw.extract_month(text)'] loop
        execute format('revoke all on function %s from public', reader);
        execute format('grant execute on function %s to safestats_dbt', reader);
    end loop;
end
$$;
