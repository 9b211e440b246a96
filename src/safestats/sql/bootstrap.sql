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

-- An organisation administrator's audit report: their own organisation's events, decided in the database
-- by the reader's membership of the organisation's role (current_user here is the reader: a view checks
-- table rights as its owner, but functions in it see the session's user). `safestats superset sync`
-- grants it to the org_admin users of access_policies/ and to no one else.
create or replace view audit.organisation_events with (security_barrier) as
select
    e.event_id,
    e.event_time,
    e.username,
    e.organisation,
    e.event_type,
    e.object,
    e.detail::text as detail
from audit.events as e
where e.organisation is not null
  and exists (
      select from pg_catalog.pg_auth_members as m
      join pg_catalog.pg_roles as g on g.oid = m.roleid
      where m.member = (select r.oid from pg_catalog.pg_roles as r where r.rolname = current_user)
        and g.rolname = 'org_' || replace(e.organisation, '-', '_')
  );
revoke all on audit.organisation_events from public;
