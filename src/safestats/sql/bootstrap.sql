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
