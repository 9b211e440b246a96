-- Named users as their organisation administrators manage them: every change kept, run by the bootstrap
-- superuser after bootstrap.sql; safe to run again. Data Sharing Agreements stay files (access_policies/
-- organisations/); `safestats policies apply` copies the facts the rules below need into governance.agreements.
-- Superset reaches this schema only through the functions at the end, as safestats_user_steward, which may
-- execute them and nothing else; each function checks who acts (an active org_admin of the user's own
-- organisation), changes the user's PostgreSQL login in the same transaction and writes the audit event.
create schema if not exists governance;
revoke all on schema governance from public;

-- Today in London, whatever the session's time zone: expiries end at the end of a London day.
create or replace function governance.london_today()
returns date
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
    select (now() at time zone 'Europe/London')::date;
$$;

create table if not exists governance.agreements (
    organisation text primary key,
    role_name text not null,
    name text not null,
    dsa_reference text not null,
    signed_on date,
    expires_on date not null,
    checklist_passed_on date,
    recorded_at timestamptz not null default now()
);

-- One row per change; a user's state is their latest row (governance.users).
create table if not exists governance.user_changes (
    change_id bigserial primary key,
    username text not null,
    organisation text not null,
    name text not null,
    email text not null,
    role text not null check (role in ('analyst', 'org_admin')),
    purpose text not null,
    expires_on date not null,
    status text not null check (status in ('invited', 'active', 'suspended', 'removed')),
    action text not null,
    authorised_by text not null,
    authorised_on date not null default governance.london_today(),
    changed_by text not null,
    changed_at timestamptz not null default now(),
    source text not null,
    reason text
);
alter table governance.user_changes
    add column if not exists authorised_on date not null default governance.london_today();
create index if not exists user_changes_latest on governance.user_changes (username, change_id desc);

create or replace function governance.refuse_change() returns trigger
language plpgsql
as $$
begin
    raise exception 'governance.user_changes keeps every change: rows are never updated or deleted'
        using errcode = 'insufficient_privilege';
end
$$;
drop trigger if exists user_changes_append_only on governance.user_changes;
create trigger user_changes_append_only before update or delete on governance.user_changes
for each row execute function governance.refuse_change();
drop trigger if exists user_changes_no_truncate on governance.user_changes;
create trigger user_changes_no_truncate before truncate on governance.user_changes
for each statement execute function governance.refuse_change();

create or replace view governance.users as
select distinct on (username) *
from governance.user_changes
order by username, change_id desc;

-- Time-based one-time password secrets (RFC 6238): last_step is the last time step accepted, so a code is
-- accepted once.
create table if not exists governance.second_factors (
    username text primary key,
    secret text not null,
    enrolled_at timestamptz not null default now(),
    last_step bigint not null default 0
);
-- wrong codes in a row, whatever the session: past the limit the account waits (a six-digit code would otherwise
-- fall to a script that logs in again after each few tries)
alter table governance.second_factors add column if not exists failures integer not null default 0;
alter table governance.second_factors add column if not exists locked_until timestamptz;

-- One-time links: only the SHA-256 of the token is kept, so this table cannot be used to onboard anyone.
create table if not exists governance.invitations (
    token_sha256 text primary key,
    username text not null,
    kind text not null check (kind in ('onboard', 'second_factor_reset')),
    created_by text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
revoke all on all tables in schema governance from public;

-- The functions below are made afresh each run (a changed signature or result cannot be replaced in place);
-- the trigger function and london_today stay: the tables' triggers and defaults need them.
do $$
declare
    fn regprocedure;
begin
    for fn in select p.oid::regprocedure from pg_proc as p
              where p.pronamespace = 'governance'::regnamespace
                and p.proname not in ('refuse_change', 'london_today') loop
        execute format('drop function %s', fn);
    end loop;
end
$$;

do $$
begin
    if not exists (select from pg_roles where rolname = 'safestats_user_steward') then
        create role safestats_user_steward login;
    end if;
end
$$;
alter role safestats_user_steward nosuperuser nocreatedb nocreaterole nobypassrls noinherit;
-- its calls carry one-time secrets (a new user's database password, a TOTP key): a failed call is not logged
-- with its statement text
alter role safestats_user_steward set log_min_error_statement = 'panic';
grant connect on database :"dbname" to safestats_user_steward;

-- The organisation of an active administrator, or an error: acting needs an org_admin whose authorisation and
-- agreement are both in force today.
create or replace function governance.acting_admin(actor text)
returns text
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    org text;
begin
    select u.organisation into org
    from governance.users as u
    join governance.agreements as a on a.organisation = u.organisation
    where u.username = actor and u.role = 'org_admin' and u.status = 'active'
      and u.expires_on >= governance.london_today() and a.signed_on <= governance.london_today()
      and a.expires_on >= governance.london_today()
      and a.checklist_passed_on is not null;
    if org is null then
        raise exception '% is not an active organisation administrator', actor using errcode = 'insufficient_privilege';
    end if;
    return org;
end
$$;

-- The latest row of an analyst of the actor's own organisation, or an error (the same one whether the user is
-- another organisation's or does not exist: an administrator learns nothing about other organisations).
-- Administrators are the platform team's to authorise and change (access_policies/users/): an administrator
-- who could make or reset another could make a second account for themselves, or take over a colleague's.
create or replace function governance.own_user(actor text, target text)
returns governance.user_changes
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    found governance.user_changes;
begin
    if actor = target then
        raise exception 'an administrator cannot change their own authorisation: ask another administrator'
            using errcode = 'insufficient_privilege';
    end if;
    select u.* into found from governance.users as u
    where u.username = target and u.organisation = governance.acting_admin(actor) and u.status <> 'removed';
    if found.username is null then
        raise exception 'no user % in your organisation', target using errcode = 'no_data_found';
    end if;
    if found.role <> 'analyst' then
        raise exception '% is an administrator: the platform team changes administrators', target
            using errcode = 'insufficient_privilege';
    end if;
    return found;
end
$$;

-- The expiry an administrator may set: after today, no later than the agreement's end.
create or replace function governance.checked_expiry(org text, expires_on date)
returns date
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    agreement_ends date;
begin
    select a.expires_on into agreement_ends from governance.agreements as a where a.organisation = org;
    if expires_on is null or expires_on <= governance.london_today() then
        raise exception 'the authorisation must end after today' using errcode = 'check_violation';
    end if;
    if expires_on > agreement_ends then
        raise exception 'the authorisation cannot end after the Data Sharing Agreement (%)', agreement_ends
            using errcode = 'check_violation';
    end if;
    return expires_on;
end
$$;

create or replace function governance.audit(actor text, org text, event_type text, target text, detail jsonb)
returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into audit.events (username, organisation, event_type, object, detail)
    values (actor, org, event_type, 'user ' || target, detail);
$$;

-- The user's PostgreSQL login as their latest row says: LOGIN while active (and the agreement in force), VALID
-- UNTIL the end of their expiry day in London, member of their organisation's role only while not removed.
create or replace function governance.apply_login(target text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    u governance.user_changes;
    a governance.agreements;
    can_login boolean;
    setting record;
begin
    select * into u from governance.users where username = target;
    select * into a from governance.agreements where organisation = u.organisation;
    can_login := u.status = 'active' and a.signed_on <= governance.london_today()
                 and a.expires_on >= governance.london_today()
                 and a.checklist_passed_on is not null;
    if not exists (select from pg_roles where rolname = target) then
        execute format('create role %I nologin inherit', target);
        execute format('comment on role %I is %L', target, 'safestats:user:' || u.organisation);
        for setting in select s.name, s.value from private.login_settings as s loop
            execute format('alter role %I set %I = %L', target, setting.name, setting.value);
        end loop;
    end if;
    if exists (select from pg_roles as r where r.rolname = target
               and (r.rolsuper or coalesce(shobj_description(r.oid, 'pg_authid'), '') not like 'safestats:%')) then
        raise exception 'role % exists and is not a SafeStats user', target using errcode = 'duplicate_object';
    end if;
    execute format('comment on role %I is %L', target, 'safestats:user:' || u.organisation);
    execute format('alter role %I %s valid until %L', target, case when can_login then 'login' else 'nologin' end,
                   ((u.expires_on + 1)::timestamp at time zone 'Europe/London'));
    if u.status in ('active', 'suspended') then
        execute format('grant %I to %I', a.role_name, target);
    elsif exists (select from pg_auth_members as m where m.member = (select oid from pg_roles where rolname = target)
                  and m.roleid = (select oid from pg_roles where rolname = a.role_name)) then
        execute format('revoke %I from %I', a.role_name, target);
    end if;
    if u.role = 'org_admin' and u.status = 'active' then
        execute format('grant usage on schema audit to %I', target);
        execute format('grant select on audit.organisation_events to %I', target);
    else
        execute format('revoke select on audit.organisation_events from %I', target);
        execute format('revoke usage on schema audit from %I', target);
    end if;
end
$$;

create or replace function governance.record(u governance.user_changes)
returns void
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into governance.user_changes (username, organisation, name, email, role, purpose, expires_on, status,
                                         action, authorised_by, authorised_on, changed_by, source, reason)
    values (u.username, u.organisation, u.name, u.email, u.role, u.purpose, u.expires_on, u.status, u.action,
            u.authorised_by, coalesce(u.authorised_on, governance.london_today()), u.changed_by, u.source, u.reason);
$$;

-- A one-time link as Superset makes it: a SHA-256 in hex, valid for one to seven days.
create or replace function governance.checked_link(token_sha256 text, link_days integer)
returns void
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
begin
    if token_sha256 !~ '^[0-9a-f]{64}$' or link_days is null or link_days not between 1 and 7 then
        raise exception 'a one-time link is a SHA-256 valid for 1 to 7 days' using errcode = 'check_violation';
    end if;
end
$$;

-- Authorise a new user: recorded as invited, their login created without LOGIN, and a one-time link
-- (its SHA-256 given here; Superset shows the token to the administrator once).
create or replace function governance.authorise_user(
    actor text, target text, full_name text, email text, user_role text, purpose text, expires_on date,
    token_sha256 text, link_days integer
)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    org text := governance.acting_admin(actor);
    u governance.user_changes;
begin
    if target !~ '^[a-z][a-z0-9_]{2,47}$' or target ~ '^(pg_|safestats|org_|postgres)' then
        raise exception 'username %: 3-48 lower-case letters, digits or _, starting with a letter, not reserved',
            target using errcode = 'check_violation';
    end if;
    if exists (select from governance.user_changes as c where c.username = target)
       or exists (select from pg_roles as r where r.rolname = target) then
        raise exception 'the username % is taken: choose another', target using errcode = 'unique_violation';
    end if;
    if coalesce(btrim(full_name), '') = '' or coalesce(btrim(purpose), '') = '' or email !~ '^[^@\s]+@[^@\s]+$' then
        raise exception 'a name, an e-mail address and a purpose are needed' using errcode = 'check_violation';
    end if;
    if user_role is distinct from 'analyst' then
        raise exception 'administrators authorise analysts; the platform team authorises administrators'
            using errcode = 'insufficient_privilege';
    end if;
    perform governance.checked_link(token_sha256, link_days);
    u.username := target;
    u.organisation := org;
    u.name := btrim(full_name);
    u.email := btrim(email);
    u.role := user_role;
    u.purpose := btrim(purpose);
    u.expires_on := governance.checked_expiry(org, expires_on);
    u.status := 'invited';
    u.action := 'authorise';
    u.authorised_by := actor;
    u.authorised_on := governance.london_today();
    u.changed_by := actor;
    u.source := 'web';
    perform governance.record(u);
    perform governance.apply_login(target);
    insert into governance.invitations (token_sha256, username, kind, created_by, expires_at)
    values (token_sha256, target, 'onboard', actor, now() + make_interval(days => link_days));
    perform governance.audit(actor, org, 'user_authorised', target,
                             jsonb_build_object('role', user_role, 'purpose', btrim(purpose),
                                                'expires_on', expires_on));
end
$$;

-- Renew (re-certify): another period, a fresh statement of purpose.
create or replace function governance.renew_user(actor text, target text, purpose text, expires_on date)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    u governance.user_changes := governance.own_user(actor, target);
begin
    if coalesce(btrim(purpose), '') = '' then
        raise exception 'a renewal needs a fresh statement of purpose' using errcode = 'check_violation';
    end if;
    u.purpose := btrim(purpose);
    u.expires_on := governance.checked_expiry(u.organisation, expires_on);
    u.action := 'renew';
    u.authorised_by := actor;
    u.authorised_on := governance.london_today();
    u.changed_by := actor;
    u.source := 'web';
    u.reason := null;
    perform governance.record(u);
    perform governance.apply_login(target);
    perform governance.audit(actor, u.organisation, 'user_renewed', target,
                             jsonb_build_object('purpose', u.purpose, 'expires_on', u.expires_on));
end
$$;

-- Suspend, reinstate or remove: the login follows in the same transaction (a removed user leaves the
-- organisation's role; their history stays).
create or replace function governance.set_user_status(actor text, target text, new_status text, why text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    u governance.user_changes := governance.own_user(actor, target);
    verb text := case new_status when 'suspended' then 'suspend' when 'removed' then 'remove'
                                 when 'active' then 'reinstate' end;
begin
    if verb is null then
        raise exception 'status % is not suspended, removed or active', new_status using errcode = 'check_violation';
    end if;
    if new_status = 'active' and u.status <> 'suspended' then
        raise exception 'only a suspended user can be reinstated' using errcode = 'check_violation';
    end if;
    if new_status = 'suspended' and u.status <> 'active' then
        raise exception 'only an active user can be suspended (an invited user can be removed)'
            using errcode = 'check_violation';
    end if;
    u.status := new_status;
    u.action := verb;
    u.changed_by := actor;
    u.source := 'web';
    u.reason := nullif(btrim(coalesce(why, '')), '');
    perform governance.record(u);
    perform governance.apply_login(target);
    if new_status = 'removed' then
        delete from private.login_verifiers as v where v.username = target;
        delete from governance.second_factors as s where s.username = target;
        update governance.invitations set used_at = now() where username = target and used_at is null;
    end if;
    perform governance.audit(actor, u.organisation,
                             'user_' || verb || (case when verb like '%e' then 'd' else 'ed' end),
                             target, jsonb_build_object('reason', u.reason));
end
$$;

-- Recovery: the second factor withdrawn and a new one-time link to enrol another (and set a password).
create or replace function governance.reset_second_factor(actor text, target text, token_sha256 text, link_days integer)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    u governance.user_changes := governance.own_user(actor, target);
begin
    perform governance.checked_link(token_sha256, link_days);
    delete from governance.second_factors as s where s.username = target;
    update governance.invitations set used_at = now() where username = target and used_at is null;
    insert into governance.invitations (token_sha256, username, kind, created_by, expires_at)
    values (token_sha256, target, case when u.status = 'invited' then 'onboard' else 'second_factor_reset' end,
            actor, now() + make_interval(days => link_days));
    perform governance.audit(actor, u.organisation, 'second_factor_reset', target, '{}'::jsonb);
end
$$;

-- Whom a one-time link is for, while it can still be used (nothing otherwise).
create or replace function governance.invitation(token_sha256 text)
returns table (username text, name text, organisation text, kind text, expires_at timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
    select i.username, u.name, a.name, i.kind, i.expires_at
    from governance.invitations as i
    join governance.users as u on u.username = i.username
    join governance.agreements as a on a.organisation = u.organisation
    where i.token_sha256 = invitation.token_sha256 and i.used_at is null and i.expires_at > now()
      and u.status in ('invited', 'active', 'suspended');
$$;

-- The invitee's part: their second factor enrolled, a database password for their identity pass-through
-- (generated by Superset, never shown), the link used up; an invited user becomes active. Returns the username.
create or replace function governance.accept_invitation(token_sha256 text, totp_secret text, database_password text)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    inv governance.invitations;
    u governance.user_changes;
begin
    select i.* into inv from governance.invitations as i
    where i.token_sha256 = accept_invitation.token_sha256 and i.used_at is null and i.expires_at > now()
    for update;
    if inv.username is null then
        raise exception 'this link has been used or has expired: ask your administrator for a new one'
            using errcode = 'insufficient_privilege';
    end if;
    select * into u from governance.users where username = inv.username;
    if u.status not in ('invited', 'active', 'suspended') then
        raise exception 'this link has been used or has expired: ask your administrator for a new one'
            using errcode = 'insufficient_privilege';
    end if;
    update governance.invitations set used_at = now() where governance.invitations.token_sha256 = inv.token_sha256;
    insert into governance.second_factors (username, secret) values (u.username, totp_secret)
    on conflict (username) do update set secret = excluded.secret, enrolled_at = now(), last_step = 0, failures = 0,
                                         locked_until = null;
    if u.status = 'invited' then
        u.status := 'active';
        u.action := 'onboard';
        u.changed_by := u.username;
        u.source := 'web';
        u.reason := null;
        perform governance.record(u);
    end if;
    perform governance.apply_login(u.username);
    execute format('alter role %I password %L', u.username, database_password);
    insert into private.login_verifiers (username, verifier)
    select rolname, rolpassword from pg_authid where rolname = u.username
    on conflict (username) do update set verifier = excluded.verifier, recorded_at = now();
    perform governance.audit(u.username, u.organisation,
                             case inv.kind when 'onboard' then 'user_onboarded' else 'second_factor_enrolled' end,
                             u.username, jsonb_build_object('invited_by', inv.created_by));
    return u.username;
end
$$;

-- The user's secret, and until when they must wait after too many wrong codes (null: they need not).
create or replace function governance.second_factor(target text)
returns table (secret text, locked_until timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
    select s.secret, case when s.locked_until > now() then s.locked_until end
    from governance.second_factors as s where s.username = target;
$$;

-- A wrong code: counted per user; the tenth in a row makes the account wait 15 minutes (and each after it).
create or replace function governance.second_factor_failed(target text)
returns integer
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    update governance.second_factors as s
    set failures = s.failures + 1,
        locked_until = case when s.failures + 1 >= 10 then now() + interval '15 minutes' else s.locked_until end
    where s.username = target
    returning s.failures;
$$;

-- A code's time step is accepted once per user: true when this step is newer than the last accepted.
create or replace function governance.use_second_factor_step(target text, step bigint)
returns boolean
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    with used as (
        update governance.second_factors as s set last_step = step, failures = 0, locked_until = null
        where s.username = target and s.last_step < step and (s.locked_until is null or s.locked_until <= now())
        returning 1
    )
    select exists (select from used);
$$;

-- Every named user not removed, with what Superset needs to know of them; read by Superset every few seconds.
create or replace function governance.named_users()
returns table (username text, organisation text, role text, status text, name text, email text, purpose text,
               expires_on date, agreement_in_force boolean, source text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
    select u.username, u.organisation, u.role, u.status, u.name, u.email, u.purpose, u.expires_on,
           coalesce(a.signed_on <= governance.london_today() and a.expires_on >= governance.london_today()
                    and a.checklist_passed_on is not null, false),
           u.source
    from governance.users as u
    left join governance.agreements as a on a.organisation = u.organisation
    where u.status <> 'removed';
$$;

-- The administrator's list: their organisation's users (removed ones included), each with who authorised them
-- and their last login.
create or replace function governance.organisation_users(actor text)
returns table (username text, name text, email text, role text, purpose text, status text, expires_on date,
               authorised_by text, authorised_on date, last_login timestamptz, second_factor boolean)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
    select u.username, u.name, u.email, u.role, u.purpose, u.status, u.expires_on, u.authorised_by,
           u.authorised_on,
           (select max(e.event_time) from audit.events as e where e.username = u.username and e.event_type = 'login'),
           exists (select from governance.second_factors as s where s.username = u.username)
    from governance.users as u
    where u.organisation = governance.acting_admin(actor)
    order by u.status = 'removed', u.username;
$$;

-- A user's change history, for an administrator of their organisation: who authorised them, when and why.
create or replace function governance.user_history(actor text, target text)
returns table (changed_at timestamptz, action text, status text, role text, purpose text, expires_on date,
               authorised_by text, authorised_on date, changed_by text, reason text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
    select c.changed_at, c.action, c.status, c.role, c.purpose, c.expires_on, c.authorised_by, c.authorised_on,
           c.changed_by, c.reason
    from governance.user_changes as c
    where c.username = target and c.organisation = governance.acting_admin(actor)
    order by c.change_id;
$$;

-- The organisation's audit report: per user and month, what its users did, counted from the audit chain. Only
-- counts of the administrator's own organisation's events come out (an opaque function, never inlined: no
-- plan or row count reaches other organisations' events).
create or replace function governance.organisation_activity(actor text, from_month date, to_month date)
returns table (username text, month date, logins bigint, failed_logins bigint, conditions_accepted bigint,
               queries bigint, chart_views bigint, exports bigint, exported_rows bigint, downloads bigint,
               administration bigint)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    org text := governance.acting_admin(actor);
begin
    return query
    select e.username, date_trunc('month', e.event_time at time zone 'Europe/London')::date,
           count(*) filter (where e.event_type = 'login'),
           count(*) filter (where e.event_type in ('login_failed', 'second_factor_failed')),
           count(*) filter (where e.event_type = 'conditions_accepted'),
           count(*) filter (where e.event_type = 'sqllab_query'),
           count(*) filter (where e.event_type = 'chart_data'),
           count(*) filter (where e.event_type = 'export'),
           coalesce(sum(case when e.event_type = 'export' and jsonb_typeof(e.detail -> 'rows') = 'number'
                             then (e.detail ->> 'rows')::bigint end), 0)::bigint,
           count(*) filter (where e.event_type in ('output_downloaded', 'audit_report_downloaded')),
           count(*) filter (where e.event_type like 'user\_%' or e.event_type = 'second_factor_reset')
    from audit.events as e
    where e.organisation = org
      and e.event_time >= (from_month::timestamp at time zone 'Europe/London')
      and e.event_time < ((to_month + interval '1 month')::timestamp at time zone 'Europe/London')
    group by 1, 2
    order by 2, 1;
end
$$;

do $$
declare
    fn regprocedure;
begin
    for fn in select p.oid::regprocedure from pg_proc as p where p.pronamespace = 'governance'::regnamespace loop
        execute format('revoke all on function %s from public', fn);
    end loop;
end
$$;
grant usage on schema governance to safestats_user_steward;
grant execute on function
    governance.authorise_user(text, text, text, text, text, text, date, text, integer),
    governance.renew_user(text, text, text, date),
    governance.set_user_status(text, text, text, text),
    governance.reset_second_factor(text, text, text, integer),
    governance.invitation(text),
    governance.accept_invitation(text, text, text),
    governance.second_factor(text),
    governance.second_factor_failed(text),
    governance.use_second_factor_step(text, bigint),
    governance.named_users(),
    governance.organisation_users(text),
    governance.user_history(text, text),
    governance.organisation_activity(text, date, date)
to safestats_user_steward;
