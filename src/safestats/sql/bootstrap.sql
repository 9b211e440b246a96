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

-- Audit: append-only record of what the platform did (policy changes here; logins and queries later).
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
revoke all on audit.events from public;
