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

create table if not exists raw._rejects (
    load_id bigint not null references raw._loads (load_id),
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
