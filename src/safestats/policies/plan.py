"""Compare the compiled access with the live database: the exact changes, then apply them in one transaction."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from safestats.policies.agreements import Agreements
from safestats.policies.catalogue import MartRelation
from safestats.policies.compiler import (
    BUILDER_FINGERPRINT,
    MARTS,
    RelationGrant,
    builder_policy,
    builder_policy_name,
    compile_grants,
    relation_statements,
)

LONDON = ZoneInfo("Europe/London")
ORG_MARK = "safestats:organisation:"
USER_MARK = "safestats:user:"


@dataclass(frozen=True)
class Change:
    summary: str
    statements: tuple = ()
    secret: bool = False   # the statements carry a password: show the summary only


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    grants: list[RelationGrant] = field(default_factory=list)
    new_passwords: dict[str, str] = field(default_factory=dict)

    def add(self, summary: str, *statements, secret: bool = False) -> None:
        self.changes.append(Change(summary, tuple(statements), secret))


def valid_until(expires_on: date) -> datetime:
    """A login works to the end of its expiry day, London time."""
    return datetime.combine(expires_on + timedelta(days=1), time(0), LONDON)


def _live(conn) -> dict:
    # 'infinity' has no Python datetime: read it as a marker that never equals a real expiry.
    roles = {r[0]: r for r in conn.execute(
        "select rolname, rolcanlogin,"
        " case when isfinite(rolvaliduntil) then rolvaliduntil::text else coalesce(rolvaliduntil::text, 'none') end,"
        " shobj_description(oid, 'pg_authid'),"
        " rolsuper or rolcreatedb or rolcreaterole or rolreplication or rolbypassrls from pg_roles"
        " where shobj_description(oid, 'pg_authid') like 'safestats:%'").fetchall()}
    members = conn.execute(
        "select m.rolname, g.rolname from pg_auth_members a join pg_roles m on m.oid = a.member"
        " join pg_roles g on g.oid = a.roleid").fetchall()
    relations = {r[0]: r for r in conn.execute(
        "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relkind in ('r', 'p')",
        (MARTS,)).fetchall()}
    roles = {name: (n, login, until if until in ("none", "infinity") else datetime.fromisoformat(until), mark, power)
             for name, (n, login, until, mark, power) in roles.items()}
    org_roles = [name for name, r in roles.items() if r[3].startswith(ORG_MARK)]
    columns = {}
    for role, rel, col in conn.execute(
            "select g.rolname, c.relname, a.attname from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
            " cross join pg_roles g"
            " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') and g.rolname = any(%s)"
            " and has_column_privilege(g.oid, c.oid, a.attnum, 'SELECT')", (MARTS, org_roles)).fetchall():
        columns.setdefault((rel, role), set()).add(col)
    public_grants = {r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace,"
        " aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) acl"
        " where n.nspname = %s and acl.grantee = 0", (MARTS,)).fetchall()}
    policies = {(r[0], r[1]): r[2] for r in conn.execute(
        "select c.relname, p.polname, obj_description(p.oid, 'pg_policy') from pg_policy p"
        " join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s", (MARTS,)).fetchall()}
    reach = {r[0]: (r[1], r[2]) for r in conn.execute(
        "select rolname, has_database_privilege(oid, current_database(), 'CONNECT'),"
        " coalesce(has_schema_privilege(oid, %s, 'USAGE'), false) from pg_roles where rolname = any(%s)",
        (MARTS, org_roles)).fetchall()} if conn.execute("select to_regnamespace(%s)", (MARTS,)).fetchone()[0] \
        else {r: (False, False) for r in org_roles}
    users = [name for name, r in roles.items() if r[3].startswith(USER_MARK)]
    passwords = dict(conn.execute("select rolname, rolpassword from pg_authid where rolname = any(%s)",
                                  (users,)).fetchall())
    verifiers = dict(conn.execute("select username, verifier from private.login_verifiers").fetchall())
    role_settings = {}
    for name, database, entry in conn.execute(
            "select r.rolname, coalesce(d.datname, ''), c.entry from pg_db_role_setting s"
            " join pg_roles r on r.oid = s.setrole left join pg_database d on d.oid = s.setdatabase,"
            " unnest(s.setconfig) as c(entry) where r.rolname = any(%s)", (users,)).fetchall():
        role_settings.setdefault(name, set()).add((database, entry))
    wanted_settings = {("", f"{n}={v}") for n, v in conn.execute(
        "select name, value from private.login_settings").fetchall()}
    return {"roles": roles, "members": members, "relations": relations, "columns": columns,
            "public": public_grants, "policies": policies, "reach": reach, "passwords": passwords,
            "verifiers": verifiers, "settings": role_settings, "wanted_settings": wanted_settings}


def make_plan(conn: psycopg.Connection, agreements: Agreements, catalogue: dict[str, MartRelation], today: date,
              passwords: dict[str, str], new_password) -> Plan:
    live = _live(conn)
    plan = Plan(grants=compile_grants(agreements, catalogue, today))
    dbname = sql.Identifier(conn.info.dbname)
    org_roles = {o.role: o for o in agreements.organisations.values()}
    _plan_organisations(plan, live, org_roles, dbname)
    _plan_users(plan, live, agreements, today, passwords, new_password)
    _plan_removed_users(plan, live, agreements.users)
    _plan_relations(plan, live, org_roles)
    _plan_removed_organisations(plan, live, org_roles, dbname)
    return plan


def _plan_organisations(plan: Plan, live: dict, org_roles: dict, dbname: sql.Identifier) -> None:
    ident = sql.Identifier
    with_access = {g.org_role for g in plan.grants}
    # Organisations: one NOLOGIN role each; CONNECT and schema USAGE only while the agreement gives access.
    for role, org in sorted(org_roles.items()):
        mark = ORG_MARK + org.slug
        if role not in live["roles"]:
            plan.add(f"create organisation role {role}",
                     sql.SQL("create role {} nologin").format(ident(role)),
                     sql.SQL("comment on role {} is {}").format(ident(role), sql.Literal(mark)))
        connect, usage = live["reach"].get(role, (False, False))
        if role in with_access and not (connect and usage):
            plan.add(f"let {role} connect and use schema {MARTS}",
                     sql.SQL("grant connect on database {} to {}").format(dbname, ident(role)),
                     sql.SQL("grant usage on schema {} to {}").format(ident(MARTS), ident(role)))
        if role not in with_access and (connect or usage):
            plan.add(f"{role} has no agreement in force: no connect, no schema usage",
                     sql.SQL("revoke connect on database {} from {}").format(dbname, ident(role)),
                     sql.SQL("revoke usage on schema {} from {}").format(ident(MARTS), ident(role)))


def _plan_users(plan: Plan, live: dict, agreements: Agreements, today: date, passwords: dict[str, str],
               new_password) -> None:
    ident = sql.Identifier
    # Named users: LOGIN while their organisation's agreement is in force, VALID UNTIL their expiry,
    # member of exactly their organisation's role.
    wanted_users = agreements.users
    for username, user in sorted(wanted_users.items()):
        org = agreements.organisations[user.organisation]
        role, mark = org.role, USER_MARK + org.slug
        login = org.has_access(today) and user.status == "active"
        until = valid_until(user.expires_on)
        login_sql = sql.SQL("login" if login else "nologin")
        live_role = live["roles"].get(username)
        invited = user.status == "invited"     # no password and no organisation until they accept the invitation
        if live_role is None and invited:
            plan.add(f"create user {username} of {org.slug} (invited: no login until they accept)",
                     sql.SQL("create role {} nologin inherit valid until {}").format(
                         ident(username), sql.Literal(until.isoformat())),
                     sql.SQL("comment on role {} is {}").format(ident(username), sql.Literal(mark)),
                     *login_settings(username, set(), live))
        elif live_role is None:
            password = passwords.get(username) or new_password()
            plan.new_passwords[username] = password
            state = f"{'login' if login else 'no login'} to the end of {user.expires_on}"
            plan.add(f"create user {username} of {org.slug} ({state})",
                     sql.SQL("create role {} {} inherit password {} valid until {}").format(
                         ident(username), login_sql, sql.Literal(password), sql.Literal(until.isoformat())),
                     sql.SQL("comment on role {} is {}").format(ident(username), sql.Literal(mark)),
                     record_verifier(username), secret=True)
            plan.add(f"user {username}: the platform's role settings", *login_settings(username, set(), live))
        else:
            _, can_login, live_until, live_mark, powers = live_role
            if powers:
                plan.add(f"user {username}: strip powers granted by hand",
                         sql.SQL("alter role {} nosuperuser nocreatedb nocreaterole noreplication nobypassrls").format(
                             ident(username)))
            if can_login != login or live_until != until or live_mark != mark:
                plan.add(f"user {username}: {'login' if login else 'no login'} to the end of {user.expires_on}",
                         sql.SQL("alter role {} {} valid until {}").format(
                             ident(username), login_sql, sql.Literal(until.isoformat())),
                         sql.SQL("comment on role {} is {}").format(ident(username), sql.Literal(mark)))
            recorded = live["verifiers"].get(username)
            password, why = passwords.get(username), None
            if invited:
                pass    # no password until they accept the invitation (governance.accept_invitation sets it)
            elif password is None:
                password = plan.new_passwords[username] = new_password()
                why = "new password (none on record in this install)"
            elif recorded is None:
                why = "password verifier recorded (none on record)"
            elif live["passwords"].get(username) != recorded:
                why = "password changed outside SafeStats: restored"
            if why:
                plan.add(f"user {username}: {why}",
                         sql.SQL("alter role {} password {}").format(ident(username), sql.Literal(password)),
                         record_verifier(username), secret=True)
            have = live["settings"].get(username, set())
            if have != live["wanted_settings"]:
                found = ", ".join(f"{e} (in {d})" if d else e for d, e in sorted(have)) or "none"
                plan.add(f"user {username}: role settings are the platform's again (found: {found})",
                         *login_settings(username, have, live))
        groups = {g for m, g in live["members"] if m == username}
        wanted = set() if invited else {role}
        for other in sorted(wanted - groups):
            plan.add(f"user {username} joins {other}", sql.SQL("grant {} to {}").format(ident(other), ident(username)))
        for other in sorted(groups - wanted):
            plan.add(f"user {username} leaves {other}",
                     sql.SQL("revoke {} from {}").format(ident(other), ident(username)))


def record_verifier(username: str) -> sql.Composable:
    """What private.restore_login puts back: the SCRAM verifier of the password just set, read in the same
    transaction."""
    return sql.SQL("insert into private.login_verifiers (username, verifier)"
                   " select rolname, rolpassword from pg_authid where rolname = {}"
                   " on conflict (username) do update set verifier = excluded.verifier, recorded_at = now()"
                   ).format(sql.Literal(username))


def login_settings(username: str, have: set, live: dict) -> list[sql.Composable]:
    """Every role setting the user has removed (in every database), then the platform's (log_statement)."""
    ident = sql.Identifier
    statements = [sql.SQL("alter role {} in database {} reset all").format(ident(username), ident(database))
                  if database else sql.SQL("alter role {} reset all").format(ident(username))
                  for database in sorted({d for d, _ in have})]
    for _, entry in sorted(live["wanted_settings"]):
        name, value = entry.split("=", 1)
        statements.append(sql.SQL("alter role {} set {} = {}").format(ident(username), ident(name),
                                                                      sql.Literal(value)))
    return statements


def _plan_removed_users(plan: Plan, live: dict, wanted_users: dict) -> None:
    ident = sql.Identifier
    for name in sorted(set(live["verifiers"]) - set(wanted_users)):
        plan.add(f"user {name} removed from access_policies: its login is no longer restored",
                 sql.SQL("delete from private.login_verifiers where username = {}").format(sql.Literal(name)))
    for name, (_, can_login, _, mark, _) in sorted(live["roles"].items()):
        if mark.startswith(USER_MARK) and name not in wanted_users:
            groups = sorted(g for m, g in live["members"] if m == name)
            if can_login or groups:   # already disabled: nothing to do
                plan.add(f"user {name} removed from access_policies: login disabled",
                         *([sql.SQL("alter role {} nologin").format(ident(name))] if can_login else []),
                         *(sql.SQL("revoke {} from {}").format(ident(g), ident(name)) for g in groups))


def _plan_relations(plan: Plan, live: dict, org_roles: dict) -> None:
    ident = sql.Identifier
    # Relations: RLS enabled and forced, exactly the compiled policies and column grants.
    for rel, (_, enabled, forced) in sorted(live["relations"].items()):
        table = sql.Identifier(MARTS, rel)
        if not enabled:
            plan.add(f"{MARTS}.{rel}: enable row-level security",
                     sql.SQL("alter table {} enable row level security").format(table))
        if not forced:
            plan.add(f"{MARTS}.{rel}: force row-level security",
                     sql.SQL("alter table {} force row level security").format(table))
        if rel in live["public"]:
            plan.add(f"{MARTS}.{rel}: revoke everything from PUBLIC",
                     sql.SQL("revoke all on {} from public").format(table))
        wanted = {g.policy_name: g for g in plan.grants if g.relation == rel}
        builder = builder_policy_name(rel)
        if live["policies"].get((rel, builder)) != BUILDER_FINGERPRINT:
            plan.add(f"{MARTS}.{rel}: policy {builder} (the builder reads every row)", *builder_policy(rel))
        for (prel, pname), comment in sorted(live["policies"].items()):
            if prel == rel and pname not in wanted and pname != builder:
                plan.add(f"{MARTS}.{rel}: drop policy {pname}",
                         sql.SQL("drop policy {} on {}").format(ident(pname), table))
        for g in wanted.values():
            if live["policies"].get((rel, g.policy_name)) != g.fingerprint():
                create = relation_statements(rel, [g])[2:5]   # drop, create, comment: not RLS, not the grant
                plan.add(f"{MARTS}.{rel}: policy {g.policy_name} for {g.org_role}", *create)
        for role in sorted(set(org_roles) | {r for (lrel, r) in live["columns"] if lrel == rel}):
            have = live["columns"].get((rel, role), set())
            grant = next((g for g in wanted.values() if g.org_role == role), None)
            want = set(grant.columns) if grant else set()
            if have == want:
                continue
            statements = []
            if have - want:
                statements += [sql.SQL("revoke select on {} from {}").format(table, ident(role)),
                               sql.SQL("revoke select ({}) on {} from {}").format(
                                   sql.SQL(", ").join(ident(c) for c in sorted(have)), table, ident(role))]
                have = set()
            if want - have:
                statements.append(sql.SQL("grant select ({}) on {} to {}").format(
                    sql.SQL(", ").join(ident(c) for c in grant.columns if c not in have), table, ident(role)))
            plan.add(f"{MARTS}.{rel}: {role} may select {len(want)} column(s)", *statements)


def _plan_removed_organisations(plan: Plan, live: dict, org_roles: dict, dbname: sql.Identifier) -> None:
    ident = sql.Identifier
    # Organisations no longer in access_policies: everything above removed their grants; now the role.
    for name, (_, _, _, mark, _) in sorted(live["roles"].items()):
        if mark.startswith(ORG_MARK) and name not in org_roles:
            plan.add(f"organisation role {name} removed from access_policies",
                     sql.SQL("revoke all on all tables in schema {} from {}").format(ident(MARTS), ident(name)),
                     sql.SQL("revoke usage on schema {} from {}").format(ident(MARTS), ident(name)),
                     sql.SQL("revoke connect on database {} from {}").format(dbname, ident(name)),
                     *(sql.SQL("revoke {} from {}").format(ident(name), ident(m))
                       for m, g in live["members"] if g == name),
                     sql.SQL("drop role {}").format(ident(name)))



def rendered(plan: Plan, conn) -> list[str]:
    lines = []
    for change in plan.changes:
        lines.append(f"- {change.summary}")
        if not change.secret:
            lines.extend(f"    {s.as_string(conn)};" for s in change.statements)
    return lines


def apply_plan(conn: psycopg.Connection, plan: Plan, catalogue: dict[str, MartRelation], actor: str) -> None:
    """Make every change, store each relation's statements for dbt's post-hook, audit: one transaction."""
    with conn.transaction():
        for change in plan.changes:
            for statement in change.statements:
                conn.execute(statement)
        conn.execute("delete from private.access_policy_statements")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into private.access_policy_statements (relation_schema, relation, position, statement)"
                " values (%s, %s, %s, %s)",
                [(MARTS, rel, i, s.as_string(conn)) for rel in sorted(catalogue)
                 for i, s in enumerate(relation_statements(rel, plan.grants))])
        conn.execute(
            "insert into audit.events (username, organisation, event_type, object, detail)"
            " values (%s, null, 'policy_change', 'access_policies', %s)",
            (actor, json.dumps({"changes": [c.summary for c in plan.changes]})))
