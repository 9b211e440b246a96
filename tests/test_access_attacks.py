"""Attacks on the access model, on the real database, logged in as each demo user with their own password.

What each organisation may see is computed here, independently of the compiler, from the YAML as written
(access_policies/ read with yaml.safe_load, the marts catalogue's columns): the rows are filtered by the
agreement's boroughs in Python over a superuser's copy of every marts table. Every user that can log in is
then compared with that, relation by relation and column by column: zero leaks, zero missing rows.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import psycopg
import pytest
import yaml
from access_oracle import (
    LONDON,
    MARTS,
    OTHER_SCHEMAS,
    SERVICE_LOGINS,
    Allowed,
    allowed,
    check_matrix,
    check_relation,
    connect_as,
    in_force,
    load_synthetic_data,
    managed_roles,
    may_log_in,
    read_policies,
    real_changes,
    restore_access,
    snapshot,
)
from psycopg import errors, sql

from safestats import credentials, dbt
from safestats.policies import service
from safestats.policies.agreements import load_agreements
from safestats.policies.catalogue import MartRelation, load_catalogue
from safestats.policies.plan import apply_plan, make_plan

# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def su(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def catalogue(cfg):
    return load_catalogue(cfg.project_dir / "models")


@pytest.fixture(scope="module", autouse=True)
def data(cfg, bootstrap, contracts, tmp_path_factory):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        found = managed_roles(su)
        load_synthetic_data(cfg, bootstrap, contracts, tmp_path_factory.mktemp("attacks-landing"))
        yield
        restore_access(cfg, su, found)


@pytest.fixture(scope="module")
def demo(cfg):
    return read_policies(cfg.project_dir / "access_policies")


@pytest.fixture(scope="module")
def passwords(cfg, data):
    return credentials.user_passwords(cfg)


@dataclass(frozen=True)
class Attacker:
    username: str
    org_role: str
    relation: MartRelation
    access: Allowed
    hidden_borough: str        # a borough with rows in the relation that the attacker must not see


@pytest.fixture(scope="module")
def attacker(cfg, su, demo, catalogue, data) -> Attacker:
    """A demo analyst who logs in and sees only part of a record-level relation."""
    orgs, users = demo
    today, now = date.today(), datetime.now(timezone.utc)
    for username, (slug, user) in sorted(users.items(), key=lambda kv: (kv[1][1]["role"] != "analyst", kv[0])):
        if not may_log_in(orgs[slug], user, catalogue, today, now):
            continue
        for rel in sorted(catalogue.values(), key=lambda r: r.name):
            access = allowed(orgs[slug], rel, today)
            if (rel.level != "record" or access is None or access.boroughs is None
                    or access.column != rel.geography_column):
                continue
            hidden = su.execute(sql.SQL("select {col} from {t} where not {col} = any(%s) group by 1"
                                        " order by count(*) desc limit 1").format(
                col=sql.Identifier(rel.geography_column), t=sql.Identifier(MARTS, rel.name)),
                (sorted(access.boroughs),)).fetchone()
            if hidden:
                return Attacker(username, "org_" + slug.replace("-", "_"), rel, access, hidden[0])
    pytest.fail("the demo agreements have no user who logs in and sees part of a record-level relation")


@pytest.fixture
def attack(cfg, attacker):
    with connect_as(service.user_endpoint(attacker.username, cfg)) as conn:
        yield conn


def sees_exactly_own_rows(conn, su, attacker: Attacker) -> None:
    table = snapshot(su, {attacker.relation.name: attacker.relation})[attacker.relation.name]
    assert check_relation(conn, attacker.username, attacker.relation, table, attacker.access) > 0


# ---------------------------------------------------------------------------------------------------------
# The leakage matrix
# ---------------------------------------------------------------------------------------------------------

def test_every_user_sees_exactly_what_their_agreement_allows(bootstrap, su, catalogue, demo, passwords):
    orgs, users = demo
    result = check_matrix(bootstrap, su, catalogue, orgs, users, passwords)
    seen = result["logged_in"]
    # The matrix must be able to fail: some users see rows, some see only part of a relation, some are refused.
    assert any(rows for per_rel in seen.values() for name, rows in per_rel.items()
               if catalogue[name].level == "record"), seen
    totals = {name: len(t.rows) for name, t in snapshot(su, catalogue).items()}
    assert any(0 < rows < totals[name] for per_rel in seen.values() for name, rows in per_rel.items()), seen
    assert result["refused"], "no demo user is refused: the refusal half of the matrix tests nothing"


def _readable(conn, relation: str, column: str) -> bool:
    try:
        conn.execute(sql.SQL("select {} from {} limit 1").format(sql.Identifier(column),
                                                                  sql.Identifier(MARTS, relation))).fetchall()
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


def test_the_borough_core_is_only_as_exact_as_each_source_agreement(cfg, su, demo, passwords):
    """fct_borough_violence_core counts four datasets side by side: each source's exact count reaches only
    organisations with record-level access to that source; aggregate-level ones read its released count (the
    agg_ relation); organisations with no agreement for a source read nothing of it, in either relation."""
    exact = {"police": "police_violence_count", "knife": "knife_crime_count",
             "las": "ambulance_violence_dispatch_count", "ed": "ed_assault_attendance_count"}
    # (user) -> the sources it reads exactly in fct_, the sources it reads released in agg_ (the demo YAML)
    expected = {
        "met_analyst": ({"police", "knife"}, {"police", "knife"}),   # police: no ambulance or A&E agreement
        "camden_analyst": ({"police", "las"}, {"police", "las", "ed"}),   # A&E at aggregate level only
        "hackney_analyst": ({"police"}, {"police", "las"}),                # ambulance at aggregate level only
        "vru_analyst": (set(), {"police", "las", "ed"}),                    # no recorded-crime agreement
    }
    for username, (exactly, released) in expected.items():
        with connect_as(service.user_endpoint(username, cfg)) as conn:
            assert {s for s, c in exact.items() if _readable(conn, "fct_borough_violence_core", c)} == exactly
            assert {s for s, c in exact.items() if _readable(conn, "fct_borough_violence_core",
                                                              c.replace("_count", "_rate_per_1000"))} == exactly
            assert {s for s, c in exact.items()
                    if _readable(conn, "agg_borough_violence_core_monthly", c)
                    and _readable(conn, "agg_borough_violence_core_monthly", c + "_suppressed")} == released
    # and the column rule cannot be stepped round: the population and borough columns stay readable
    with connect_as(service.user_endpoint("hackney_analyst", cfg)) as conn:
        assert _readable(conn, "fct_borough_violence_core", "population")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from marts.fct_borough_violence_core")


def test_users_who_must_not_log_in_are_refused(bootstrap, su, catalogue, demo, passwords):
    """Expired users, users of an organisation whose agreement expired, or whose checklist is not passed."""
    orgs, users = demo
    today, now = date.today(), datetime.now(timezone.utc)
    reasons = {}
    for username, (slug, user) in users.items():
        org = orgs[slug]
        last_day = min(user["expires_on"], org["dsa"]["expires_on"])
        if org["onboarding"]["security_checklist_passed_on"] is None:
            reasons[username] = "checklist not passed"
        elif org["dsa"]["expires_on"] < today:
            reasons[username] = "agreement expired"
        elif now >= datetime.combine(last_day + timedelta(days=1), time(0), LONDON):
            reasons[username] = "user authorisation expired"
    assert reasons, "the demo agreements have nobody who must be refused"
    for username, reason in sorted(reasons.items()):
        with pytest.raises(psycopg.OperationalError):
            connect_as(bootstrap.as_user(username, passwords[username])).close()
        can_login, until = su.execute("select rolcanlogin, rolvaliduntil from pg_roles where rolname = %s",
                                      (username,)).fetchone()
        # The mechanism: NOLOGIN while the organisation has no agreement in force, else VALID UNTIL.
        if reason == "user authorisation expired":
            assert can_login and until <= now, (username, reason)
        else:
            assert not can_login, (username, reason)


# ---------------------------------------------------------------------------------------------------------
# Spoofing as an analyst
# ---------------------------------------------------------------------------------------------------------

def test_an_analyst_cannot_become_anyone_else(su, attack, attacker):
    others = [r[0] for r in su.execute(
        "select rolname from pg_roles where rolname <> all(%s) and (rolname like 'org\\_%%'"
        " or rolname in ('safestats_dbt', 'safestats_loader', 'postgres', 'pg_read_all_data', 'pg_monitor')"
        " or shobj_description(oid, 'pg_authid') like 'safestats:user:%%')",
        ([attacker.org_role, attacker.username],)).fetchall()]
    assert {"safestats_dbt", "postgres"} <= set(others) and any(r.startswith("org_") for r in others)
    for role in others:
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute("select set_config('role', %s, false)", (role,))
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute(sql.SQL("set session authorization {}").format(sql.Identifier(role)))
    assert attack.execute("select current_user, session_user").fetchone() == (attacker.username,) * 2
    attack.execute("reset role")
    attack.execute("reset session authorization")
    sees_exactly_own_rows(attack, su, attacker)
    # Its own organisation's role is allowed (membership) and changes nothing: the policy is on that role.
    attack.execute(sql.SQL("set role {}").format(sql.Identifier(attacker.org_role)))
    sees_exactly_own_rows(attack, su, attacker)
    attack.execute("reset role")


def test_settings_change_nothing(su, attack, attacker):
    """Policies key on role membership, never on a setting the session can change."""
    settings = [
        ("safestats.organisation", "metropolitan-police"), ("safestats.boroughs", "E09000001,E09000033"),
        ("app.current_user", "met_analyst"), ("app.org", "org_metropolitan_police"),
        ("request.jwt.claims", '{"role": "postgres"}'), ("search_path", "public, pg_catalog"),
        ("enable_seqscan", "off"), ("DateStyle", "SQL, DMY"),
        # The demo agreements expire years away, so these two cannot move the expiry term here
        # (see test_the_expiry_term_ignores_the_session_timezone for what they do at an agreement's end).
        ("TimeZone", "Etc/GMT+12"), ("TimeZone", "Etc/GMT-14"),
    ]
    for name, value in settings:
        attack.execute("select set_config(%s, %s, false)", (name, value))
        sees_exactly_own_rows(attack, su, attacker)
    # Row security cannot be switched off: a query it would filter is refused instead.
    attack.execute("set row_security = off")
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        attack.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(MARTS, attacker.relation.name)))
    attack.execute("reset all")
    sees_exactly_own_rows(attack, su, attacker)


def _state(su) -> list:
    """Everything access depends on: roles and their attributes, memberships, the effective privileges of every
    role on every marts column and table, anything granted to PUBLIC, policies, RLS flags, schema and
    database privileges."""
    return [
        su.execute("select rolname, rolcanlogin, rolvaliduntil, rolpassword, rolsuper, rolbypassrls, rolinherit"
                   " from pg_authid where rolname !~ '^pg_' order by 1").fetchall(),
        su.execute("select roleid::regrole::text, member::regrole::text, admin_option, inherit_option, set_option"
                   " from pg_auth_members order by 1, 2").fetchall(),
        su.execute("select c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relowner::regrole::text"
                   " from pg_class c where c.relnamespace = 'marts'::regnamespace order by 1").fetchall(),
        su.execute("select r.rolname, c.relname, a.attname from pg_roles r, pg_class c join pg_attribute a"
                   " on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
                   " where c.relnamespace = 'marts'::regnamespace and not r.rolsuper"
                   " and has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT') order by 1, 2, 3").fetchall(),
        su.execute("select r.rolname, c.relname, p.priv from pg_roles r, pg_class c,"
                   " unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)"
                   " where c.relnamespace = 'marts'::regnamespace and not r.rolsuper"
                   " and has_table_privilege(r.oid, c.oid, p.priv) order by 1, 2, 3").fetchall(),
        su.execute("select c.relname, '', a.privilege_type from pg_class c, aclexplode(c.relacl) a"
                   " where c.relnamespace = 'marts'::regnamespace and a.grantee = 0"
                   " union all select c.relname, t.attname, a.privilege_type from pg_class c"
                   " join pg_attribute t on t.attrelid = c.oid, aclexplode(t.attacl) a"
                   " where c.relnamespace = 'marts'::regnamespace and a.grantee = 0 order by 1, 2, 3").fetchall(),
        su.execute("select tablename, policyname, roles::text, cmd, qual, with_check from pg_policies"
                   " order by 1, 2").fetchall(),
        su.execute("select n.nspname, a.grantee, a.privilege_type from pg_namespace n,"
                   " aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a order by 1, 2, 3").fetchall(),
        su.execute("select d.datname, a.grantee, a.privilege_type from pg_database d,"
                   " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a order by 1, 2, 3").fetchall(),
    ]


def assert_same_state(now: list, before: list) -> None:
    for part_now, part_before in zip(now, before):
        assert part_now == part_before, (f"appeared: {sorted(set(part_now) - set(part_before))[:6]}, "
                                         f"gone: {sorted(set(part_before) - set(part_now))[:6]}")


def test_an_analyst_cannot_create_write_or_change_access(su, attack, attacker):
    before = _state(su)
    rel = sql.Identifier(MARTS, attacker.relation.name)
    col = sql.Identifier(attacker.access.columns[0])
    attempts = [
        sql.SQL("create function public.leak(text) returns boolean language sql as 'select true'"),
        sql.SQL("create function marts.leak(text) returns boolean language sql as 'select true'"),
        sql.SQL("create function pg_temp.leak(text) returns boolean language sql as 'select true'"),
        sql.SQL("create view public.leak as select 1 as x"),
        sql.SQL("create view marts.leak as select * from {}").format(rel),
        sql.SQL("create table public.leak (x int)"),
        sql.SQL("create table marts.leak (x int)"),
        sql.SQL("create table marts.leak as select * from {}").format(rel),
        sql.SQL("create temp table leak (x int)"),
        sql.SQL("create temp table leak as select * from {}").format(rel),
        sql.SQL("create schema leak"),
        sql.SQL("insert into {} ({}) values (null)").format(rel, col),
        sql.SQL("update {} set {} = {}").format(rel, col, col),
        sql.SQL("delete from {}").format(rel),
        sql.SQL("truncate {}").format(rel),
        sql.SQL("alter table {} disable row level security").format(rel),
        sql.SQL("alter table {} no force row level security").format(rel),
        sql.SQL("drop policy {} on {}").format(sql.Identifier(f"builder__{attacker.relation.name}"), rel),
        sql.SQL("create policy leak on {} for select using (true)").format(rel),
        sql.SQL("drop table {}").format(rel),
        sql.SQL("alter role {} bypassrls").format(sql.Identifier(attacker.username)),
        sql.SQL("grant {} to {}").format(sql.Identifier("org_metropolitan_police"),
                                         sql.Identifier(attacker.username)),
        sql.SQL("select private.apply_access_policies('marts', {})").format(sql.Literal(attacker.relation.name)),
    ]
    # every object named exists (the policy too), so each refusal is for want of privilege, never "not found"
    assert su.execute("select count(*) from pg_policies where schemaname = %s and tablename = %s"
                      " and policyname = %s", (MARTS, attacker.relation.name,
                                               f"builder__{attacker.relation.name}")).fetchone()[0] == 1
    for statement in attempts:
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute(statement)
    # GRANT of a privilege held without grant option is a warning in PostgreSQL, not an error: nothing changes.
    for statement in [sql.SQL("grant select on {} to public").format(rel),
                      sql.SQL("grant select ({}) on {} to public").format(col, rel)]:
        try:
            attack.execute(statement)
        except errors.InsufficientPrivilege:
            pass
    assert_same_state(_state(su), before)
    sees_exactly_own_rows(attack, su, attacker)


def test_an_analyst_reads_nothing_outside_marts(su, attack):
    relations = su.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')", (list(OTHER_SCHEMAS),)).fetchall()
    assert {s for s, _ in relations} >= {"raw", "staging", "suppressed", "private", "audit"}, relations
    for schema, name in relations:
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute(sql.SQL("select * from {} limit 1").format(sql.Identifier(schema, name)))
    for secret in ("pg_authid", "pg_statistic", "pg_user_mapping"):
        with pytest.raises(errors.InsufficientPrivilege):
            attack.execute(sql.SQL("select * from pg_catalog.{} limit 1").format(sql.Identifier(secret)))
    with pytest.raises(errors.InsufficientPrivilege):
        attack.execute("select pg_read_file('postgresql.conf')")


# ---------------------------------------------------------------------------------------------------------
# Side channels
# ---------------------------------------------------------------------------------------------------------

def test_functions_that_raise_on_hidden_rows_reveal_nothing(su, attack, attacker):
    """Row-level security's quals run before any non-leakproof expression of the query (security barrier):
    an expression that raises on a hidden row never sees one."""
    rel, col = sql.Identifier(MARTS, attacker.relation.name), sql.Identifier(attacker.relation.geography_column)
    hidden = sql.Literal(attacker.hidden_borough)
    probes = [
        # division by zero on exactly the hidden rows
        sql.SQL("select count(*) from {rel} where {col} = {hidden}"
                " and 1 / (case when {col} = {hidden} then 0 else 1 end) = 1"),
        sql.SQL("select count(*) from {rel} where 1 / (case when {col} = {hidden} then 0 else 1 end) = 1"),
        # a cast that fails on the hidden borough's code
        sql.SQL("select count(*) from {rel} where (case when {col} = {hidden} then {col} else '1' end)::int = 1"),
        # in the select list, an aggregate, a join and an ORDER BY
        sql.SQL("select sum(1 / (case when {col} = {hidden} then 0 else 1 end)) from {rel}"),
        sql.SQL("select count(*) from {rel} a join {rel} b using ({col})"
                " where 1 / (case when a.{col} = {hidden} then 0 else 1 end) = 1"),
        sql.SQL("select {col} from {rel} order by 1 / (case when {col} = {hidden} then 0 else 1 end) limit 1"),
        # and a set-returning trick: generate_series errors on a null step only for hidden rows
        sql.SQL("select count(*) from {rel}, generate_series(1, 1, case when {col} = {hidden} then 0 else 1 end)"),
    ]
    for probe in probes:
        attack.execute(probe.format(rel=rel, col=col, hidden=hidden)).fetchall()   # must not raise
    hidden_rows = su.execute(sql.SQL("select count(*) from {} where {} = {}").format(rel, col, hidden)).fetchone()[0]
    assert hidden_rows > 0
    assert attack.execute(sql.SQL("select count(*) from {} where {} = {}").format(rel, col, hidden)).fetchone() == (0,)


def _plan_rows(conn, query: sql.Composable) -> float:
    return conn.execute(sql.SQL("explain (format json) {}").format(query)).fetchone()[0][0]["Plan"]["Plan Rows"]


def test_statistics_and_estimates_hide_other_boroughs(su, attack, attacker):
    """pg_stats hides the statistics of a table whose row-level security applies to the reader. EXPLAIN works
    for an analyst, but on a relation laid out by borough its estimates come from the reader's own partitions
    only (the parent keeps no statistics): two hidden boroughs of different sizes get the same estimate, and
    the catalogue's row counts are not readable (tests/security/test_row_count_oracles.py shows the channel
    open on the plain layout)."""
    name, col = attacker.relation.name, attacker.relation.geography_column
    rel = sql.Identifier(MARTS, name)
    su.execute(sql.SQL("analyze {}").format(rel))
    assert attack.execute("select count(*) from pg_stats where schemaname = 'marts'").fetchone() == (0,)
    assert attack.execute("select count(*) from pg_stats_ext where schemaname = 'marts'").fetchone() == (0,)

    counts = dict(su.execute(sql.SQL("select {col}, count(*) from {rel} where not {col} = any(%s) group by 1"
                                     " order by 2 desc").format(col=sql.Identifier(col), rel=rel),
                             (sorted(attacker.access.boroughs),)).fetchall())
    big, small = max(counts, key=counts.get), min(counts, key=counts.get)
    assert counts[big] > counts[small]

    def estimate(borough):
        # The OR makes it a join clause, estimated (unrounded) from the column's statistics; its second arm
        # is all but impossible, so on a plain table the estimate is proportional to the borough's share.
        return _plan_rows(attack, sql.SQL(
            "select 1 from {rel} a, generate_series(1, 1000000) g"
            " where (a.{col} = {b} or (g.g = 0 and g.g = 1 and g.g = 2 and g.g = 3))").format(
                rel=rel, col=sql.Identifier(col), b=sql.Literal(borough)))
    assert estimate(big) == estimate(small)
    with pytest.raises(errors.InsufficientPrivilege):
        attack.execute("select reltuples from pg_class where oid = %s::regclass", (f"{MARTS}.{name}",))


def test_other_sessions_queries_are_hidden(cfg, bootstrap, su, attack, attacker, demo, catalogue, passwords):
    """pg_stat_activity shows another user's session, never its query text (which carries literal values)."""
    orgs, users = demo
    today, now = date.today(), datetime.now(timezone.utc)
    other = next(u for u, (slug, user) in sorted(users.items())
                 if u != attacker.username and may_log_in(orgs[slug], user, catalogue, today, now))
    marker = "secret-marker-E09000033-0451"
    with connect_as(bootstrap.as_user(other, passwords[other])) as victim:
        victim.execute(sql.SQL("select {}").format(sql.Literal(marker)))
        pid = victim.info.backend_pid
        query = attack.execute("select query from pg_stat_activity where pid = %s", (pid,)).fetchone()
        assert query is not None and marker not in (query[0] or "")
        assert attack.execute("select count(*) from pg_stat_activity where query like %s",
                              (f"%{marker}%",)).fetchone() == (0,)
        assert su.execute("select query from pg_stat_activity where pid = %s", (pid,)).fetchone()[0].find(marker) >= 0


def test_an_analyst_cannot_store_large_objects(su, attack, undo):
    before = su.execute("select count(*) from pg_largeobject_metadata").fetchone()[0]

    def unlink_what_the_analyst_stored():
        for (oid,) in su.execute("select oid from pg_largeobject_metadata where lomowner = %s::regrole",
                                 (attack.info.user,)).fetchall():
            su.execute("select lo_unlink(%s)", (oid,))
        assert su.execute("select count(*) from pg_largeobject_metadata").fetchone()[0] == before

    undo(unlink_what_the_analyst_stored)
    with pytest.raises(errors.InsufficientPrivilege):
        attack.execute("select lo_from_bytea(0, 'anything an analyst wants to keep or pass on')")


def test_an_analyst_cannot_connect_to_other_databases(bootstrap, attacker, passwords):
    for dbname in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(bootstrap.as_user(attacker.username, passwords[attacker.username]).conninfo(
                dbname=dbname), connect_timeout=5).close()


def test_the_expiry_term_ignores_the_session_timezone(cfg, bootstrap, su, catalogue, tmp_path, undo):
    # The date in UTC-12, the last place on earth to reach a new day: an agreement whose last day it is is in
    # force there, and already over in UTC+14 (always a later date), whatever the time now.
    last_day = (datetime.now(timezone.utc) - timedelta(hours=12)).date()
    root = tmp_path / "access_policies"
    shutil.copytree(cfg.project_dir / "access_policies", root)
    (root / "organisations" / "tz-probe.yml").write_text(f"""name: Time zone probe
type: other
area: [E09000007]
dsa: {{reference: TZ-1, signed_on: 2025-01-01, expires_on: {last_day}, legal_basis: test, purposes: [test]}}
onboarding: {{security_checklist_passed_on: 2025-01-01, approved_by: platform}}
datasets:
  police_uk_street_crimes: {{level: record, geography: london}}
""")
    (root / "users" / "tz-probe.yml").write_text(f"""users:
  - {{username: tzprobe_admin, name: T Z, email: tz@example.org, role: org_admin, purpose: test,
     authorised_by: platform, authorised_on: 2025-01-01, expires_on: {last_day}}}
""")
    passwords = dict(credentials.user_passwords(cfg))
    # Applied while the agreement is in force (on its last day); the session below was opened then:
    # VALID UNTIL is checked only when a session starts, so the harness lifts it to open one now.
    plan = make_plan(su, load_agreements(root, catalogue), catalogue, last_day, passwords, credentials.new_password)
    passwords.update(plan.new_passwords)
    undo(service.apply, cfg)      # the agreements as they are in the project: the probe organisation gone
    apply_plan(su, plan, catalogue, actor="test_access_attacks")
    su.execute("alter role tzprobe_admin valid until '2999-01-01'")
    seen = {}
    with connect_as(bootstrap.as_user("tzprobe_admin", passwords["tzprobe_admin"])) as conn:
        for zone in ("Etc/GMT+12", "Europe/London", "UTC", "Etc/GMT-14"):
            conn.execute("select set_config('TimeZone', %s, false)", (zone,))
            seen[zone] = conn.execute("select count(*) from marts.fct_street_crimes").fetchone()[0]
    in_force_in_london = datetime.now(LONDON).date() <= last_day
    total = su.execute("select count(*) from marts.fct_street_crimes").fetchone()[0]
    assert seen == {zone: (total if in_force_in_london else 0) for zone in seen}


def test_each_agreements_expiry_is_evaluated_once_a_query_not_once_a_row(su):
    # PostgreSQL does not lift a policy's row-independent condition out of the scan as it does a query's own:
    # written plainly, the expiry's now() was evaluated for every row read, which made a scan of an aggregate
    # mart about twice as slow for the organisation as for the owner. Each policy, planned as its organisation
    # reads the relation, must take the date once (an InitPlan) and test no clock per row.
    policies = su.execute("select tablename, roles[1] from pg_policies where schemaname = %s"
                          " and policyname like 'dsa\\_%%' order by 1, 2", (MARTS,)).fetchall()
    assert len(policies) > 20
    per_row = []
    for table, role in policies:
        with su.transaction(force_rollback=True):
            su.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            plan = [r[0] for r in su.execute(sql.SQL("explain select count(*) from {}").format(
                sql.Identifier(MARTS, table))).fetchall()]
        assert any("InitPlan" in line for line in plan), (table, role, plan)
        per_row += [(table, role, line.strip()) for line in plan if "now()" in line]
    assert per_row == []


# ---------------------------------------------------------------------------------------------------------
# Role audit
# ---------------------------------------------------------------------------------------------------------

def test_no_analyst_login_has_any_power(su, demo):
    orgs, users = demo
    # the named users: access_policies/ and those organisation administrators onboarded (test_org_admin)
    named = {u: spec[0] for u, spec in users.items()} | dict(su.execute(
        "select username, organisation from governance.users where status <> 'removed'").fetchall())
    logins = {r[0] for r in su.execute("select rolname from pg_roles where rolcanlogin").fetchall()}
    analysts = logins - SERVICE_LOGINS
    assert analysts and analysts <= set(named), f"login roles that are no named user: " \
                                                f"{sorted(analysts - set(named))}"
    org_roles = {"org_" + slug.replace("-", "_"): slug for slug in orgs}
    for role in sorted(analysts | SERVICE_LOGINS - {"postgres"} | set(org_roles)):
        row = su.execute("select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication"
                         " from pg_roles where rolname = %s", (role,)).fetchone()
        if row is not None:
            assert row == (False,) * 5, (role, row)
    for username in sorted(analysts):
        slug = named[username]
        owned = su.execute("select count(*) from pg_shdepend where refobjid = %s::regrole and deptype = 'o'",
                           (username,)).fetchone()[0]
        assert owned == 0, f"{username} owns {owned} object(s)"
        memberships = su.execute(
            "select g.rolname, a.admin_option from pg_auth_members a join pg_roles g on g.oid = a.roleid"
            " where a.member = %s::regrole", (username,)).fetchall()
        assert memberships == [("org_" + slug.replace("-", "_"), False)], (username, memberships)
    for role in sorted(set(org_roles) & {r[0] for r in su.execute("select rolname from pg_roles").fetchall()}):
        assert su.execute("select rolcanlogin from pg_roles where rolname = %s", (role,)).fetchone() == (False,)
        assert su.execute("select count(*) from pg_auth_members where member = %s::regrole",
                          (role,)).fetchone() == (0,), f"{role} is a member of another role"
        assert su.execute("select count(*) from pg_shdepend where refobjid = %s::regrole and deptype = 'o'",
                          (role,)).fetchone() == (0,)


def test_every_marts_table_forces_row_level_security(su):
    relations = su.execute("select relname, relkind, relrowsecurity, relforcerowsecurity, reloptions"
                           " from pg_class where relnamespace = 'marts'::regnamespace"
                           " and relkind in ('r', 'p', 'v', 'm', 'f')").fetchall()
    assert relations
    for name, kind, enabled, forced, options in relations:
        if kind == "v":   # a view must run with its reader's rights, so the tables' policies apply to them
            assert "security_invoker=true" in (options or []), f"marts.{name} is not security_invoker"
            continue
        assert kind in ("r", "p"), f"marts.{name} is a {kind!r}: row-level security cannot apply to it"
        assert enabled and forced, f"marts.{name}: row-level security enabled={enabled} forced={forced}"
    # Only column grants: no table-level privilege for anyone but the owner, nothing for PUBLIC.
    assert su.execute("select c.relname, a.grantee::regrole::text, a.privilege_type from pg_class c,"
                      " aclexplode(c.relacl) a where c.relnamespace = 'marts'::regnamespace"
                      " and a.grantee <> c.relowner").fetchall() == []
    assert su.execute("select count(*) from pg_attribute t join pg_class c on c.oid = t.attrelid,"
                      " aclexplode(t.attacl) a where c.relnamespace = 'marts'::regnamespace"
                      " and (a.grantee = 0 or a.privilege_type <> 'SELECT')").fetchone() == (0,)


def test_no_security_definer_function_is_reachable_by_an_organisation(su):
    """A SECURITY DEFINER function runs with its owner's rights: none may be callable by an analyst."""
    reachable = su.execute(
        "select r.rolname, n.nspname, p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace,"
        " pg_roles r where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')"
        " and (r.rolname like 'org\\_%' or shobj_description(r.oid, 'pg_authid') like 'safestats:user:%')"
        " and has_function_privilege(r.oid, p.oid, 'EXECUTE') and has_schema_privilege(r.oid, n.oid, 'USAGE')"
    ).fetchall()
    assert reachable == []


# ---------------------------------------------------------------------------------------------------------
# Idempotence, and policies that survive dbt
# ---------------------------------------------------------------------------------------------------------

def test_plan_after_apply_is_empty_and_a_second_apply_changes_nothing(cfg, su):
    _, plan, lines = service.plan(cfg)
    assert real_changes(plan) == [], lines
    before = _state(su)
    again = service.apply(cfg)
    assert real_changes(again) == [] and again.new_passwords == {}
    assert_same_state(_state(su), before)
    last = su.execute("select detail from audit.events where event_type = 'policy_change'"
                      " order by event_id desc limit 1").fetchone()[0]
    assert (last if isinstance(last, dict) else json.loads(last)) == {"changes": [c.summary for c in again.changes]}


def test_apply_repairs_tampering(cfg, bootstrap, su, catalogue, demo, passwords, attacker, undo):
    """Drift a superuser might introduce by hand is in the plan, and apply restores exactly the compiled state."""
    before = _state(su)
    rel = sql.Identifier(MARTS, attacker.relation.name)
    other_org = su.execute("select rolname from pg_roles where rolname like 'org\\_%%' and rolname <> %s"
                           " order by 1 limit 1", (attacker.org_role,)).fetchone()[0]
    # should the repair under test fail: the tampering undone by hand, then the compiled state applied
    undo(service.apply, cfg)
    undo(su.execute, sql.SQL("revoke {} from {}").format(sql.Identifier(other_org), sql.Identifier(attacker.username)))
    undo(su.execute, sql.SQL("revoke select on {} from public").format(rel))
    undo(su.execute, sql.SQL("drop policy if exists rogue on {}").format(rel))
    for statement in [
        sql.SQL("grant select on {} to {}").format(rel, sql.Identifier(attacker.org_role)),
        sql.SQL("grant select on {} to public").format(rel),
        sql.SQL("create policy rogue on {} for select to public using (true)").format(rel),
        sql.SQL("alter table {} no force row level security").format(rel),
        sql.SQL("grant {} to {}").format(sql.Identifier(other_org), sql.Identifier(attacker.username)),
        sql.SQL("alter role {} valid until '2999-01-01'").format(sql.Identifier(attacker.username)),
    ]:
        su.execute(statement)
    _, plan, lines = service.plan(cfg)
    assert len(real_changes(plan)) >= 5, lines
    service.apply(cfg)
    assert_same_state(_state(su), before)
    _, plan, lines = service.plan(cfg)
    assert real_changes(plan) == [], lines
    orgs, users = demo
    check_matrix(bootstrap, su, catalogue, orgs, users, passwords)


def test_apply_repairs_a_login_made_valid_forever(cfg, su, attacker, undo):
    wanted = su.execute("select rolvaliduntil from pg_roles where rolname = %s", (attacker.username,)).fetchone()[0]
    undo(service.apply, cfg)
    undo(su.execute, sql.SQL("alter role {} valid until {}").format(sql.Identifier(attacker.username),
                                                                   sql.Literal(wanted.isoformat())))
    su.execute(sql.SQL("alter role {} valid until 'infinity'").format(sql.Identifier(attacker.username)))
    _, plan, lines = service.plan(cfg)
    assert any(attacker.username in c.summary for c in plan.changes), lines
    service.apply(cfg)
    assert su.execute("select rolvaliduntil from pg_roles where rolname = %s",
                      (attacker.username,)).fetchone()[0] == wanted


def test_plan_is_empty_after_a_user_is_removed(cfg, su, catalogue, tmp_path, undo):
    root = tmp_path / "access_policies"
    shutil.copytree(cfg.project_dir / "access_policies", root)
    in_force_slug = next(p.stem for p in sorted((root / "organisations").glob("*.yml"))
                         if in_force(yaml.safe_load(p.read_text()), date.today()))
    users_file = root / "users" / f"{in_force_slug}.yml"
    doc = yaml.safe_load(users_file.read_text())
    admin = next(u["username"] for u in doc["users"] if u["role"] == "org_admin")
    doc["users"].append({"username": "leaver_analyst", "name": "L", "email": "l@example.org", "role": "analyst",
                         "purpose": "test", "authorised_by": admin, "authorised_on": "2025-01-01",
                         "expires_on": (date.today() + timedelta(days=30)).isoformat()})
    users_file.write_text(yaml.safe_dump(doc))
    passwords = dict(credentials.user_passwords(cfg))
    plan = make_plan(su, load_agreements(root, catalogue), catalogue, date.today(), passwords,
                     credentials.new_password)
    undo(service.apply, cfg)
    apply_plan(su, plan, catalogue, actor="test_access_attacks")
    service.apply(cfg)    # the leaver is gone from the YAML: login disabled, membership revoked
    assert su.execute("select rolcanlogin from pg_roles where rolname = 'leaver_analyst'").fetchone() == (False,)
    _, plan, lines = service.plan(cfg)
    assert plan.changes == [], lines


def _oids(su) -> dict:
    return dict(su.execute("select relname, oid from pg_class where relnamespace = 'marts'::regnamespace"
                           " and relkind = 'r'").fetchall())


# every model rebuilt, marts tables included (the data tests are not what this checks)
@pytest.mark.parametrize("args", [["run"], ["run", "--full-refresh"]], ids=["run", "full-refresh"])
def test_policies_survive_dbt_rebuilds(cfg, bootstrap, su, catalogue, demo, passwords, args):
    before = _oids(su)
    outcome = dbt.run(args, cfg)
    assert outcome.success, outcome.failures
    after = _oids(su)
    assert set(after) == set(before) and all(after[n] != before[n] for n in before), "the marts were not rebuilt"
    _, plan, lines = service.plan(cfg)
    assert real_changes(plan) == [], lines
    orgs, users = demo
    result = check_matrix(bootstrap, su, catalogue, orgs, users, passwords)
    assert any(rows for per_rel in result["logged_in"].values() for rows in per_rel.values())
