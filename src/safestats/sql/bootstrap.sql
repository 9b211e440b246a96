-- The warehouse's fixed structure, run by the bootstrap superuser; safe to run again.
-- Fail closed: nothing is granted to PUBLIC, each service role gets exactly what its job needs.
do $$
begin
    if not exists (select from pg_roles where rolname = 'safestats_loader') then
        create role safestats_loader login;
    end if;
    if not exists (select from pg_roles where rolname = 'safestats_dbt') then
        create role safestats_dbt login;
    end if;
end
$$;

alter role safestats_loader nosuperuser nocreatedb nocreaterole nobypassrls;
alter role safestats_dbt nosuperuser nocreatedb nocreaterole nobypassrls;
-- The build's sorts and hashes (the leak scans, the reconciliation tests, the snapshot's comparison) in memory
-- rather than in batches on disk; its index builds likewise. The server's defaults (4 MB, 64 MB) are kept for
-- everyone else. At ten years this took a new month's leak scan from 12.1 to 9.5 s and a summary's
-- reconciliation test from 2.7 to 1.2 s.
alter role safestats_dbt set work_mem = '64MB';
alter role safestats_dbt set maintenance_work_mem = '256MB';
-- The build reads a refresh's few changed rows through indexes, and its data lives on solid-state disk, where a
-- random page costs little more than the next one: PostgreSQL's default (4.0) is for spinning disks. With it, the
-- planner read all 9.4 million rows of int_mps_recorded_crimes_latest (1.1 GB, from disk at ten years) to join a
-- month's 67,000 victims in every statement reading their categorised view; at 1.1 it looks them up. At ten years
-- a new month's build read 6.0 GB from disk rather than 10.0, and its node time fell from 123.6 to 111.1 s.
alter role safestats_dbt set random_page_cost = 1.1;

revoke all on database :"dbname" from public;
grant connect, temporary on database :"dbname" to safestats_loader, safestats_dbt;
revoke create on schema public from public;

-- Large objects are storage outside any table: nobody but the bootstrap superuser may create or write them.
do $$
declare
    fn regprocedure;
begin
    for fn in
        select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'pg_catalog'
          and (p.proname like 'lo\_%' or p.proname in ('lowrite', 'loread'))
    loop
        execute format('revoke execute on function %s from public', fn);
    end loop;
end
$$;

-- raw: what arrived, owned by the loader; dbt reads it.
create schema if not exists raw authorization safestats_loader;
grant usage on schema raw to safestats_dbt;
alter default privileges for role safestats_loader in schema raw grant select on tables to safestats_dbt;

-- private: the pseudonymisation key; only dbt reads it, nobody else ever sees it.
create schema if not exists private;
revoke all on schema private from public;
create table if not exists private.pseudonymisation_key (
    inner_pad bytea not null check (length(inner_pad) = 64),
    outer_pad bytea not null check (length(outer_pad) = 64),
    created_at timestamptz not null default now(),
    singleton boolean primary key default true check (singleton)
);
revoke all on private.pseudonymisation_key from public;
grant usage on schema private to safestats_dbt;
grant select on private.pseudonymisation_key to safestats_dbt;

-- The layers dbt builds, owned by the dbt role.
create schema if not exists seeds authorization safestats_dbt;
create schema if not exists staging authorization safestats_dbt;
create schema if not exists suppressed authorization safestats_dbt;
create schema if not exists intermediate authorization safestats_dbt;
create schema if not exists snapshots authorization safestats_dbt;
create schema if not exists marts authorization safestats_dbt;
create schema if not exists quality authorization safestats_dbt;
-- disclosure control: release candidates of the agg_ marts, and the months published from them
create schema if not exists disclosure authorization safestats_dbt;
create schema if not exists release authorization safestats_dbt;

-- What each load-by-load table (macros/materialization_loads_table.sql) holds: the loads whose rows are in
-- it, each known by its id and its file's checksum, and the fingerprint of the project it was built under.
-- dbt writes both in the transaction that changes the table's rows, so they never disagree with it.
create table if not exists private.built_loads (
    model text not null,
    load_id bigint not null,
    sha256 text not null,
    invocation_id text not null,   -- the dbt invocation that inserted the load's rows (its tests read them)
    primary key (model, load_id)
);
create table if not exists private.built_models (
    model text primary key,
    fingerprint text,
    built_at timestamptz not null,
    full_build boolean not null
);
-- The months whose rows a build changed, in the order they were recorded: a load-by-load table records the
-- months of the rows it deleted and inserted, a table refreshed month by month (month_column in its config;
-- macros/refresh_by_month.sql) the months it rebuilt, and a full build of either records all_months. A
-- table refreshed month by month rebuilds the months its upstream tables recorded after the position it was
-- last built through (built_models.through_position).
create table if not exists private.changed_months (
    position bigint generated always as identity primary key,
    model text not null,
    month date,
    all_months boolean not null default false
);
alter table private.built_models add column if not exists through_position bigint;
-- the dbt invocation that recorded the row: its row tests read the months it rebuilt
alter table private.changed_months add column if not exists invocation_id text;
-- The keys (a crime's pseudonym) of the rows a load-by-load table with config change_key deleted and inserted,
-- numbered in the same order as changed_months: a table whose rows of one month read rows of other months by
-- that key (config months_by_key) rebuilds the months its own rows with those keys lie in.
create table if not exists private.changed_keys (
    position bigint not null default nextval('private.changed_months_position_seq'),
    model text not null,
    key text not null
);
create index if not exists changed_keys_model_position on private.changed_keys (model, position);
-- What a table refreshed by key (config rows_by_key) rebuilt in one dbt invocation: a row per month it rebuilt
-- whole (key_column null; month null too for the rows of no month), and a row per key whose rows it rebuilt
-- outside those months, with the row's month. That invocation's leak scans read those rows only
-- (macros/refresh_rows.sql), not every row of the months the moved keys lie in, which changed_months records for
-- the tables after it. A snapshot's run records when it began (key_column dbt_updated_at): the versions it
-- captured are those stamped since.
create table if not exists private.rebuilt_rows (
    model text not null,
    invocation_id text not null,
    month date,
    key_column text,
    key text
);
create index if not exists rebuilt_rows_model_key on private.rebuilt_rows (model, invocation_id, key_column, key);
revoke all on private.built_loads, private.built_models, private.changed_months, private.changed_keys,
    private.rebuilt_rows from public;
grant select, insert, update, delete on private.built_loads, private.built_models, private.changed_months,
    private.changed_keys, private.rebuilt_rows to safestats_dbt;
-- the tables the refresh compacts after each build, and only those (safestats.refresh.compact_bookkeeping reads
-- this grant); the build analyses rebuilt_rows
grant maintain on private.changed_keys, private.changed_months, private.rebuilt_rows to safestats_dbt;
-- select: a build reads the last position given (macros/refresh_by_month.sql, recorded_through_sql)
grant usage, select on sequence private.changed_months_position_seq to safestats_dbt;

-- Access policies: the statements each marts relation needs, stored by `safestats policies apply` and
-- re-run by dbt's post-hook inside the transaction that rebuilds the relation.
create table if not exists private.access_policy_statements (
    relation_schema text not null,
    relation text not null,
    position int not null,
    statement text not null,
    primary key (relation_schema, relation, position)
);
revoke all on private.access_policy_statements from public;
grant select on private.access_policy_statements to safestats_dbt;

create or replace function private.apply_access_policies(schema_name text, relation_name text)
returns void
language plpgsql
security invoker
set search_path = pg_catalog
as $$
declare
    statement text;
begin
    -- Fail closed even for a relation no agreement mentions yet: RLS on, no policy, no grant.
    if exists (
        select from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = schema_name and c.relname = relation_name and c.relkind in ('r', 'p')
    ) then
        execute format('alter table %I.%I enable row level security', schema_name, relation_name);
        execute format('alter table %I.%I force row level security', schema_name, relation_name);
        -- Forced RLS binds the owner too: the builder reads every row by a policy of its own
        -- (the same as safestats.policies.compiler.builder_policy).
        execute format('drop policy if exists %I on %I.%I', 'builder__' || relation_name, schema_name, relation_name);
        execute format('create policy %I on %I.%I as permissive for all to safestats_dbt using (true) with check (true)',
                       'builder__' || relation_name, schema_name, relation_name);
        execute format('comment on policy %I on %I.%I is %L', 'builder__' || relation_name, schema_name,
                       relation_name, 'safestats:builder');
    end if;
    for statement in
        select s.statement from private.access_policy_statements as s
        where s.relation_schema = schema_name and s.relation = relation_name
        order by s.position
    loop
        execute statement;
    end loop;
end
$$;
revoke all on function private.apply_access_policies(text, text) from public;
grant execute on function private.apply_access_policies(text, text) to safestats_dbt;

-- Audit: append-only, hash-chained record of what the platform and its users did (policy changes,
-- logins, conditions accepted, queries, chart data, exports). Nobody may change a row once written: a
-- trigger refuses UPDATE, DELETE and TRUNCATE, and each row carries sha256(previous row_hash || its own
-- canonical content), so `safestats audit verify` finds a row changed with the triggers disabled.
create schema if not exists audit;
revoke all on schema audit from public;
create table if not exists audit.events (
    event_id bigint generated always as identity primary key,
    event_time timestamptz not null default now(),
    username text not null,
    organisation text,
    event_type text not null,
    object text,
    detail jsonb
);
alter table audit.events add column if not exists chain_position bigint;
alter table audit.events add column if not exists prev_hash text;
alter table audit.events add column if not exists row_hash text;
create unique index if not exists events_chain_position on audit.events (chain_position);
revoke all on audit.events from public;

do $$
begin
    if not exists (select from pg_roles where rolname = 'safestats_audit_writer') then
        create role safestats_audit_writer login;
    end if;
    -- Superset connects as this role for anyone who is not a named user (its admin, background jobs):
    -- it may connect and nothing else, so such a query fails instead of seeing data.
    if not exists (select from pg_roles where rolname = 'safestats_superset_nobody') then
        create role safestats_superset_nobody login;
    end if;
end
$$;
alter role safestats_audit_writer nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
alter role safestats_superset_nobody nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
grant connect on database :"dbname" to safestats_audit_writer, safestats_superset_nobody;
grant usage on schema audit to safestats_audit_writer;
grant insert (event_time, username, organisation, event_type, object, detail) on audit.events
    to safestats_audit_writer;

-- The head of the chain: one row, locked by each insert, so concurrent writers chain one after another.
create table if not exists private.audit_chain_head (
    singleton boolean primary key default true check (singleton),
    chain_position bigint not null,
    row_hash text not null
);
revoke all on private.audit_chain_head from public;
insert into private.audit_chain_head (chain_position, row_hash)
values (0, repeat('0', 64))
on conflict do nothing;

-- The canonical content of a row: a JSON array, so no two different rows share one text.
create or replace function private.audit_row_hash(
    prev_hash text, chain_position bigint, event_time timestamptz, username text, organisation text,
    event_type text, object text, detail jsonb
) returns text
language sql
immutable
set search_path = pg_catalog
as $$
    select encode(sha256(convert_to(prev_hash || jsonb_build_array(
        chain_position,
        to_char(event_time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        username, organisation, event_type, object, detail
    )::text, 'UTF8')), 'hex')
$$;
revoke all on function private.audit_row_hash(text, bigint, timestamptz, text, text, text, text, jsonb)
    from public;

-- Runs as its owner so writers need INSERT alone; it never reads the caller's identity.
create or replace function private.audit_chain() returns trigger
language plpgsql
security definer
set search_path = pg_catalog
as $$
declare
    head private.audit_chain_head;
begin
    select * into strict head from private.audit_chain_head where singleton for update;
    new.chain_position := head.chain_position + 1;
    new.prev_hash := head.row_hash;
    new.row_hash := private.audit_row_hash(new.prev_hash, new.chain_position, new.event_time, new.username,
                                           new.organisation, new.event_type, new.object, new.detail);
    update private.audit_chain_head set chain_position = new.chain_position, row_hash = new.row_hash
    where singleton;
    return new;
end
$$;
revoke all on function private.audit_chain() from public;

create or replace function private.audit_refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
    raise exception 'audit.events is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege',
              hint = 'audit records are never changed or removed; write a new event instead';
end
$$;
revoke all on function private.audit_refuse_change() from public;

-- Rows written before the chain existed (by `policies apply`) are chained once, in event order.
do $$
declare
    r record;
begin
    if exists (select from audit.events where row_hash is null) then
        execute 'alter table audit.events disable trigger user';
        for r in select event_id from audit.events where row_hash is null order by event_id loop
            update audit.events as e set
                chain_position = h.chain_position + 1,
                prev_hash = h.row_hash,
                row_hash = private.audit_row_hash(h.row_hash, h.chain_position + 1, e.event_time, e.username,
                                                  e.organisation, e.event_type, e.object, e.detail)
            from private.audit_chain_head as h
            where e.event_id = r.event_id;
            update private.audit_chain_head as h set chain_position = e.chain_position, row_hash = e.row_hash
            from audit.events as e where e.event_id = r.event_id;
        end loop;
        execute 'alter table audit.events enable trigger user';
    end if;
end
$$;
alter table audit.events alter column chain_position set not null;
alter table audit.events alter column prev_hash set not null;
alter table audit.events alter column row_hash set not null;

drop trigger if exists events_chain on audit.events;
create trigger events_chain before insert on audit.events for each row execute function private.audit_chain();
drop trigger if exists events_append_only on audit.events;
create trigger events_append_only before update or delete on audit.events
    for each row execute function private.audit_refuse_change();
drop trigger if exists events_no_truncate on audit.events;
create trigger events_no_truncate before truncate on audit.events
    for each statement execute function private.audit_refuse_change();

-- An organisation administrator's audit report: their own organisation's events. A view with a filter
-- (even security_barrier) leaks through EXPLAIN ANALYZE: leakproof predicates are pushed below its filter
-- and "Rows Removed by Filter" counts other organisations' rows. So the rows come out of a plpgsql
-- function (never inlined: the planner sees one opaque Function Scan of the caller's rows only) that
-- decides the reader by session_user, the authenticated login: inside a SECURITY DEFINER function
-- current_user is the owner, and SET ROLE cannot change session_user. EXECUTE is PUBLIC because a view
-- checks its functions' EXECUTE as the reader; the function is in `private` (no analyst can call it by
-- name) and returns rows only to a login granted SELECT on the view, which `safestats superset sync`
-- grants to the org_admin users of access_policies/ and to no one else.
create or replace function private.organisation_events()
returns table (
    event_id bigint, event_time timestamptz, username text, organisation text, event_type text, object text,
    detail text
)
language plpgsql
stable
security definer
set search_path = pg_catalog
as $$
#variable_conflict use_column
begin
    if not has_table_privilege(session_user, 'audit.organisation_events', 'select') then
        return;
    end if;
    return query
    select e.event_id, e.event_time, e.username, e.organisation, e.event_type, e.object, e.detail::text
    from audit.events as e
    where e.organisation is not null
      and exists (
          select from pg_auth_members as m
          join pg_roles as g on g.oid = m.roleid
          where m.member = (select r.oid from pg_roles as r where r.rolname = session_user)
            and g.rolname = 'org_' || replace(e.organisation, '-', '_')
      );
end
$$;
revoke all on function private.organisation_events() from public;
grant execute on function private.organisation_events() to public;

create or replace view audit.organisation_events as
select
    event_id,
    event_time,
    username,
    organisation,
    event_type,
    object,
    detail
from private.organisation_events();
alter view audit.organisation_events reset (security_barrier);
revoke all on audit.organisation_events from public;

-- Named users' logins as `safestats policies apply` last set them. Any login role may change its own
-- password and role settings (ALTER ROLE current_user ...): an analyst who sets a password of their own
-- holds a login outside Superset. apply records each user's SCRAM verifier here; restore_login puts it
-- back. Nobody but the bootstrap superuser reads this table.
create table if not exists private.login_verifiers (
    username text primary key,
    verifier text not null,
    recorded_at timestamptz not null default now()
);
revoke all on private.login_verifiers from public;

-- The role settings every named user has, and no others. log_statement is superuser-only, so an analyst
-- can neither SET it off in a session nor RESET it on their role; the server logs each of their statements.
create table if not exists private.login_settings (
    name text primary key,
    value text not null
);
revoke all on private.login_settings from public;
insert into private.login_settings (name, value) values ('log_statement', 'all')
on conflict (name) do update set value = excluded.value;

do $$
begin
    -- Superset's login keeper: restores a named user's login at each Superset login, and nothing else.
    if not exists (select from pg_roles where rolname = 'safestats_login_keeper') then
        create role safestats_login_keeper login;
    end if;
end
$$;
alter role safestats_login_keeper nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
grant connect on database :"dbname" to safestats_login_keeper;

-- Puts a named user's login back as `policies apply` left it: the recorded password verifier, and the
-- platform's role settings only (every database). Never touches VALID UNTIL, LOGIN or memberships, so an
-- expired or removed user stays so. Returns what it repaired ('password', 'settings'), empty when nothing.
create or replace function private.restore_login(username text)
returns text[]
language plpgsql
volatile
security definer
set search_path = pg_catalog
as $$
declare
    wanted text;
    login oid;
    repaired text[] := '{}';
    setting record;
begin
    select v.verifier into wanted from private.login_verifiers as v where v.username = restore_login.username;
    select r.oid into login from pg_roles as r
    where r.rolname = restore_login.username and not r.rolsuper
      and shobj_description(r.oid, 'pg_authid') like 'safestats:user:%';
    if wanted is null or login is null then
        raise exception 'restore_login: % is not a named SafeStats user', restore_login.username
            using errcode = 'insufficient_privilege',
                  hint = 'only users of access_policies/ applied by `safestats policies apply` can be restored';
    end if;
    if (select a.rolpassword from pg_authid as a where a.oid = login) is distinct from wanted then
        execute format('alter role %I password %L', restore_login.username, wanted);
        repaired := repaired || 'password'::text;
    end if;
    if (select coalesce(array_agg(format('%s=%s', s.name, s.value) order by s.name), '{}')
        from private.login_settings as s)
       is distinct from
       (select coalesce(array_agg(c.entry order by c.entry), '{}')
        from pg_db_role_setting as d, unnest(d.setconfig) as c(entry)
        where d.setrole = login and d.setdatabase = 0)
       or exists (select from pg_db_role_setting as d where d.setrole = login and d.setdatabase <> 0) then
        for setting in select d.setdatabase from pg_db_role_setting as d where d.setrole = login loop
            if setting.setdatabase = 0 then
                execute format('alter role %I reset all', restore_login.username);
            else
                execute format('alter role %I in database %I reset all', restore_login.username,
                               (select db.datname from pg_database as db where db.oid = setting.setdatabase));
            end if;
        end loop;
        for setting in select s.name, s.value from private.login_settings as s loop
            execute format('alter role %I set %I = %L', restore_login.username, setting.name, setting.value);
        end loop;
        repaired := repaired || 'settings'::text;
    end if;
    return repaired;
end
$$;
revoke all on function private.restore_login(text) from public;
grant usage on schema private to safestats_login_keeper;
grant execute on function private.restore_login(text) to safestats_login_keeper;

-- Table statistics are counts of rows: n_live_tup and friends tell any role how many rows a relation it
-- has no grant on (or sees only part of, under row-level security) holds. Only the platform's superuser
-- reads them. The views, and the per-object functions beneath them (an analyst could call those directly).
revoke select on
    pg_catalog.pg_stat_all_tables, pg_catalog.pg_stat_user_tables, pg_catalog.pg_stat_sys_tables,
    pg_catalog.pg_stat_xact_all_tables, pg_catalog.pg_stat_xact_user_tables, pg_catalog.pg_stat_xact_sys_tables,
    pg_catalog.pg_statio_all_tables, pg_catalog.pg_statio_user_tables, pg_catalog.pg_statio_sys_tables,
    pg_catalog.pg_stat_all_indexes, pg_catalog.pg_stat_user_indexes, pg_catalog.pg_stat_sys_indexes,
    pg_catalog.pg_statio_all_indexes, pg_catalog.pg_statio_user_indexes, pg_catalog.pg_statio_sys_indexes,
    pg_catalog.pg_statio_all_sequences, pg_catalog.pg_statio_user_sequences, pg_catalog.pg_statio_sys_sequences,
    pg_catalog.pg_stat_database, pg_catalog.pg_stat_database_conflicts
from public;
do $$
declare
    fn regprocedure;
begin
    for fn in
        select p.oid::regprocedure from pg_proc p
        where p.pronamespace = 'pg_catalog'::regnamespace and p.proname like 'pg\_stat\_get\_%'
          and p.pronargs = 1 and p.proargtypes[0] = 'oid'::regtype
    loop
        execute format('revoke execute on function %s from public', fn);
    end loop;
end
$$;

-- Record-level marts are list-partitioned by the column agreements restrict rows on (borough, or hospital
-- site), so an organisation's query plans and scans only its own partitions: EXPLAIN ANALYZE, planner
-- estimates and statistics never count rows outside its agreement. The partitions live in a schema no
-- analyst may use, so they are read only through their parent, under its row-level security.
create schema if not exists marts_partitions authorization safestats_dbt;
revoke all on schema marts_partitions from public;

-- Called by the partitioned_table materialization (macros/) on the relation it is building: a partition per
-- value of the first key column in the rows (temporary table rows_table), one for NULL and an empty
-- default; with a second key column (A&E: borough, then hospital site) each value's partition is itself
-- partitioned the same way. Names carry the build's id, so a build never meets the partitions of the
-- relation it replaces. No partitioned level keeps statistics of its own: inherited statistics would
-- describe every partition beneath it to any reader's planner.
create or replace function private.create_list_partitions(schema_name text, relation_name text, stem text,
                                                          build text, key_columns text[], rows_table text,
                                                          depth int default 1, row_filter text default 'true',
                                                          path text default '')
returns int
language plpgsql
security invoker
set search_path = pg_catalog
as $$
declare
    made int;
    column_name name;
    deeper boolean := depth < array_length(key_columns, 1);
    sub text := case when depth < array_length(key_columns, 1)
                     then format(' partition by list (%I)', key_columns[depth + 1]) else '' end;
begin
    made := private.add_list_partitions(schema_name, relation_name, stem, build, key_columns, rows_table, depth,
                                        row_filter, path);
    execute format('create table marts_partitions.%I partition of %I.%I for values in (null)%s',
                   left(stem, 32) || '__' || left(path || 'none_', 20) || build, schema_name, relation_name, sub);
    execute format('create table marts_partitions.%I partition of %I.%I default%s',
                   left(stem, 32) || '__' || left(path || 'other_', 20) || build, schema_name, relation_name, sub);
    if deeper then     -- the NULL and default partitions are partitioned too, and stay empty of children
        execute format('create table marts_partitions.%I partition of marts_partitions.%I default',
                       left(stem, 32) || '__' || left(path || 'none_other_', 20) || build,
                       left(stem, 32) || '__' || left(path || 'none_', 20) || build);
        execute format('create table marts_partitions.%I partition of marts_partitions.%I default',
                       left(stem, 32) || '__' || left(path || 'other_other_', 20) || build,
                       left(stem, 32) || '__' || left(path || 'other_', 20) || build);
    end if;
    for column_name in
        select a.attname from pg_attribute as a
        where a.attrelid = format('%I.%I', schema_name, relation_name)::regclass and a.attnum > 0
          and not a.attisdropped
    loop
        execute format('alter table only %I.%I alter column %I set statistics 0', schema_name, relation_name,
                       column_name);
    end loop;
    return made;
end
$$;
revoke all on function private.create_list_partitions(text, text, text, text, text[], text, int, text, text)
    from public;
grant execute on function private.create_list_partitions(text, text, text, text, text[], text, int, text, text)
    to safestats_dbt;

-- A partition (and, with a second key column, its own partitions) for each value of the key column in the rows
-- that has none yet: every value when create_list_partitions builds a relation, the new boroughs and sites when
-- a relation is refreshed month by month, so no row of a new borough or site lands in a partition shared with
-- others.
create or replace function private.add_list_partitions(schema_name text, relation_name text, stem text,
                                                       build text, key_columns text[], rows_table text,
                                                       depth int default 1, row_filter text default 'true',
                                                       path text default '')
returns int
language plpgsql
security invoker
set search_path = pg_catalog
as $$
declare
    key_value text;
    made int := 0;
    part_name text;
    part_path text;
    deeper boolean := depth < array_length(key_columns, 1);
    sub text := case when depth < array_length(key_columns, 1)
                     then format(' partition by list (%I)', key_columns[depth + 1]) else '' end;
begin
    for key_value in execute format('select distinct %I::text from %s where %s and %I is not null',
                                    key_columns[depth], rows_table, row_filter, key_columns[depth]) loop
        part_path := path || lower(regexp_replace(key_value, '[^A-Za-z0-9]+', '', 'g')) || '_';
        select c.relname into part_name
        from pg_inherits as i
        inner join pg_class as c on i.inhrelid = c.oid
        where i.inhparent = format('%I.%I', schema_name, relation_name)::regclass
          and pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', key_value);
        if not found then
            part_name := left(stem, 32) || '__' || left(part_path, 20) || build;
            execute format('create table marts_partitions.%I partition of %I.%I for values in (%L)%s',
                           part_name, schema_name, relation_name, key_value, sub);
            made := made + 1;
            if deeper then
                made := made + private.create_list_partitions(
                    'marts_partitions', part_name, stem, build, key_columns, rows_table, depth + 1,
                    format('%s and %I = %L', row_filter, key_columns[depth], key_value), part_path);
            end if;
        elsif deeper then
            made := made + private.add_list_partitions(
                'marts_partitions', part_name, stem, build, key_columns, rows_table, depth + 1,
                format('%s and %I = %L', row_filter, key_columns[depth], key_value), part_path);
        end if;
    end loop;
    return made;
end
$$;
revoke all on function private.add_list_partitions(text, text, text, text, text[], text, int, text, text)
    from public;
grant execute on function private.add_list_partitions(text, text, text, text, text[], text, int, text, text)
    to safestats_dbt;

-- Delete from the table `target` the rows whose `key_column` is that of a row of `rows_table` (those `row_filter`
-- selects) in the same partition, one value of the partition column at a time (every row at once when
-- `partition_column` is null): each delete is planned for one partition and looks its keys up in that partition's
-- index alone. One delete of every key would look each up in every partition's index (at ten years, 45,000 keys
-- in 35 borough partitions of street crimes: 11 s), and a join by partition and key is planned as a scan of them
-- all. For a table whose rows of a key stay in their partition when the key changes
-- (macros/refresh_by_month.sql, config keyed_rows_in_place). Returns the number of rows deleted.
create or replace function private.delete_keyed_rows(target text, rows_table text, partition_column text,
                                                     key_column text, row_filter text)
returns bigint
language plpgsql
security invoker
set search_path = pg_catalog
as $$
declare
    in_part text;
    part_keys text[];
    key_type text := (select format_type(a.atttypid, a.atttypmod) from pg_attribute as a
                      where a.attrelid = target::regclass and a.attname = key_column);
    deleted bigint := 0;
    n bigint;
begin
    -- the rows are read once, their keys gathered by partition
    for in_part, part_keys in execute format(
        'select %s, array_agg(%2$I::text) filter (where %2$I is not null) from %3$s where %4$s group by 1',
        case when partition_column is null then '''true'''
        else format('case when %1$I is null then format(''%%I is null'', %1$L)'
                    ' else format(''%%I = %%L'', %1$L, %1$I) end', partition_column) end,
        key_column, rows_table, row_filter)
    loop
        execute format('delete from %s where %s and %I = any($1::%s[])', target, in_part, key_column, key_type)
        using part_keys;
        get diagnostics n = row_count;
        deleted := deleted + n;
    end loop;
    return deleted;
end
$$;
revoke all on function private.delete_keyed_rows(text, text, text, text, text) from public;
grant execute on function private.delete_keyed_rows(text, text, text, text, text) to safestats_dbt;

-- Row and page counts in the catalogue, and relation sizes, are counts of rows too: with the marts laid
-- out by borough they would count each borough's rows. Every other column of pg_class stays readable
-- (psql's \d and SQLAlchemy's reflection read named columns); the platform's own roles keep all of it.
do $$
declare
    readable text;
begin
    select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into readable
    from pg_attribute as a
    where a.attrelid = 'pg_catalog.pg_class'::regclass and a.attnum > 0 and not a.attisdropped
      and a.attname not in ('reltuples', 'relpages', 'relallvisible', 'relallfrozen');
    execute 'revoke select on pg_catalog.pg_class from public';
    execute format('grant select (%s) on pg_catalog.pg_class to public', readable);
    execute 'grant select on pg_catalog.pg_class to safestats_dbt, safestats_loader';
end
$$;
revoke execute on function pg_catalog.pg_relation_size(regclass), pg_catalog.pg_relation_size(regclass, text),
    pg_catalog.pg_table_size(regclass), pg_catalog.pg_indexes_size(regclass),
    pg_catalog.pg_total_relation_size(regclass), pg_catalog.pg_database_size(oid),
    pg_catalog.pg_database_size(name), pg_catalog.pg_tablespace_size(oid), pg_catalog.pg_tablespace_size(name)
from public;
grant execute on function pg_catalog.pg_relation_size(regclass), pg_catalog.pg_relation_size(regclass, text),
    pg_catalog.pg_table_size(regclass), pg_catalog.pg_indexes_size(regclass),
    pg_catalog.pg_total_relation_size(regclass), pg_catalog.pg_database_size(oid),
    pg_catalog.pg_database_size(name), pg_catalog.pg_tablespace_size(oid), pg_catalog.pg_tablespace_size(name)
to safestats_dbt, safestats_loader;

-- pg_stat_statements (`safestats db top-queries`): every role's statements, their counts and times. Only the
-- platform's superuser reads it: in its own schema with no usage for anyone, and its views and functions
-- revoked from PUBLIC (by default any role reads every other role's counts and times there). The embedded
-- server preloads it (`safestats db start`); on a server without the module the step is skipped.
create schema if not exists monitoring;
revoke all on schema monitoring from public;
do $$
declare
    member record;
begin
    if exists (select from pg_available_extensions where name = 'pg_stat_statements') then
        if not exists (select from pg_extension where extname = 'pg_stat_statements') then
            create extension pg_stat_statements schema monitoring;
        end if;
        for member in
            select d.classid, d.objid from pg_depend as d
            join pg_extension as x on x.oid = d.refobjid
            where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e' and x.extname = 'pg_stat_statements'
              and d.classid in ('pg_proc'::regclass, 'pg_class'::regclass)
        loop
            if member.classid = 'pg_proc'::regclass then
                execute format('revoke all on function %s from public', member.objid::regprocedure);
            elsif (select c.relkind from pg_class as c where c.oid = member.objid) in ('v', 'r') then
                execute format('revoke all on %s from public', member.objid::regclass);
            end if;
        end loop;
    end if;
end
$$;

-- pg_prewarm: a refresh reads the warehouse's indexes in file order as its build starts (`refresh.warm_indexes`),
-- rather than a page at a time as the build inserts a month's crimes at random places in them. Only the build's
-- role calls it (it reads what that role owns); by default any role could, to fill the cache or time it. On a
-- server without the module the step is skipped, and the refresh reads its indexes as it goes.
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_prewarm') then
        if not exists (select from pg_extension where extname = 'pg_prewarm') then
            create extension pg_prewarm schema private;
        elsif (select extnamespace::regnamespace::text from pg_extension where extname = 'pg_prewarm') <> 'private'
        then
            alter extension pg_prewarm set schema private;
        end if;
        revoke all on function private.pg_prewarm(regclass, text, text, bigint, bigint),
            private.autoprewarm_start_worker(), private.autoprewarm_dump_now() from public;
        grant execute on function private.pg_prewarm(regclass, text, text, bigint, bigint) to safestats_dbt;
    end if;
end
$$;
