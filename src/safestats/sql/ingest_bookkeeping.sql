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

-- A date as spreadsheets and agencies write it: ISO (YYYY-MM-DD, optionally with a time), DD Mon YYYY
-- ('01 Jan 2019', or the month in full), DD/MM/YYYY (day first, as in the UK; never left to DateStyle) or
-- an Excel serial day number from 61 (1900-03-01; Excel counts a 29 Feb 1900 that never was; a fraction
-- of a day is ignored). NULL for anything else and for blanks. The ingest's row checks and the staging
-- models call this one function, so staging parses exactly what validation accepted. Plain SQL (no
-- PL/pgSQL) so that it stays cheap over every row of a COPY.
create or replace function raw.excel_date(value text) returns date
    language sql stable parallel safe as $f$
    select case
        when btrim(value) ~ '^[0-9]{1,7}([.][0-9]+)?$'
            then case
                when split_part(btrim(value), '.', 1)::bigint between 61 and 2958465
                    then date '1899-12-30' + split_part(btrim(value), '.', 1)::int
            end
        else raw.iso_date(case
            when btrim(value) ~ '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$'
                then substring(btrim(value) from '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}')
            when btrim(value) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'
                then regexp_replace(btrim(value), '^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$', '\3-\2-\1')
            when btrim(value) ~ '^[0-9]{1,2}[ -][A-Za-z]+[ -][0-9]{4}$'
                then substring(btrim(value) from '[0-9]{4}$') || '-' || coalesce(
                    array_position(array['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct',
                                         'nov', 'dec'], lower(substring(btrim(value) from '[A-Za-z]+'))),
                    array_position(array['january', 'february', 'march', 'april', 'may', 'june', 'july',
                                         'august', 'september', 'october', 'november', 'december'],
                                   lower(substring(btrim(value) from '[A-Za-z]+')))
                )::text || '-' || substring(btrim(value) from '^[0-9]{1,2}')
        end)
    end
$f$;
revoke all on function raw.iso_date(text) from public;
grant execute on function raw.iso_date(text) to safestats_dbt;
revoke all on function raw.excel_date(text) from public;
grant execute on function raw.excel_date(text) to safestats_dbt;
