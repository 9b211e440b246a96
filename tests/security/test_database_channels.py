"""Side channels and self-service in the database itself: the audit report's row-count oracle, analysts' own
credentials and role settings, the server's log of their direct sessions, and table statistics. Each attack
is shown to work on a weakened configuration and to be refused on the real one."""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone

import psycopg
import pytest
from psycopg import errors, sql

from safestats import audit, credentials, database, warehouse
from safestats.policies import service

ADMIN, ANALYST, OTHER_ORG = "camden_admin", "camden_analyst", "hackney"


@pytest.fixture(scope="module")
def users(cfg, bootstrap):
    service.apply(cfg)
    return credentials.user_passwords(cfg)


def connect(cfg, username: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(service.user_endpoint(username, cfg).conninfo(**kwargs), autocommit=True)


@pytest.fixture
def keeper(cfg, bootstrap):
    with psycopg.connect(warehouse.role_endpoint(credentials.LOGIN_KEEPER_ROLE, cfg).conninfo(),
                         autocommit=True) as conn:
        yield conn


# ---------------------------------------------------------------------------------------------------------
# 1. The org admin's audit report has no row-count oracle
# ---------------------------------------------------------------------------------------------------------

# The view as it was: security_barrier, filtering audit.events by the reader's organisation role.
BARRIER_VIEW = """
create view audit.organisation_events_barrier with (security_barrier) as
select e.event_id, e.event_time, e.username, e.organisation, e.event_type, e.object, e.detail::text as detail
from audit.events as e
where e.organisation is not null
  and exists (
      select from pg_catalog.pg_auth_members as m
      join pg_catalog.pg_roles as g on g.oid = m.roleid
      where m.member = (select r.oid from pg_catalog.pg_roles as r where r.rolname = current_user)
        and g.rolname = 'org_' || replace(e.organisation, '-', '_')
  )
"""

PROBES = [
    "select * from {view}",
    "select * from {view} where event_id = {hidden_id}",
    "select * from {view} where organisation = 'hackney'",
    "select * from {view} where username = 'hackney_probe' and event_type = 'probe'",
    "select count(*) from {view} where event_id between {hidden_id} and {hidden_id} + 1000000",
]


@pytest.fixture
def audit_reader(superuser, users):
    """camden_admin granted the report as `safestats superset sync` grants it; the old view beside it."""
    had = superuser.execute("select has_table_privilege(%s, 'audit.organisation_events', 'select')",
                            (ADMIN,)).fetchone()[0]
    superuser.execute(sql.SQL("grant usage on schema audit to {}").format(sql.Identifier(ADMIN)))
    superuser.execute(sql.SQL("grant select on audit.organisation_events to {}").format(sql.Identifier(ADMIN)))
    superuser.execute("drop view if exists audit.organisation_events_barrier")
    superuser.execute(BARRIER_VIEW)
    superuser.execute(sql.SQL("grant select on audit.organisation_events_barrier to {}").format(
        sql.Identifier(ADMIN)))
    yield
    superuser.execute("drop view audit.organisation_events_barrier")
    if not had:
        superuser.execute(sql.SQL("revoke select on audit.organisation_events from {}").format(
            sql.Identifier(ADMIN)))


def plans(conn, view: str, hidden_id: int) -> list[str]:
    """EXPLAIN (ANALYZE, VERBOSE) of every probe, without timings (the one thing allowed to differ) and without
    buffer counts: PostgreSQL 18 prints BUFFERS by default, and they count pages (the first plan of a session
    also the catalogue pages it warms), which any role reads anyway as pg_class.relpages (a residual risk in
    docs/security.md), not rows."""
    out = []
    for probe in PROBES:
        rows = conn.execute(f"explain (analyze, verbose, timing off, summary off) "
                            f"{probe.format(view=view, hidden_id=hidden_id)}").fetchall()
        out.append("\n".join(r[0] for r in rows if r[0].strip() != "Planning:"
                             and not r[0].strip().startswith("Buffers:")))
    return out


def numbers(plan_texts: list[str]) -> list[list[str]]:
    return [re.findall(r"\d+(?:\.\d+)?", text) for text in plan_texts]


def write_events(cfg, organisation: str, n: int, username: str) -> None:
    with psycopg.connect(warehouse.audit_writer_endpoint(cfg).conninfo(), autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany("insert into audit.events (username, organisation, event_type) values (%s, %s, 'probe')",
                            [(username, organisation)] * n)


def test_audit_report_plans_do_not_count_other_organisations_events(cfg, superuser, audit_reader):
    write_events(cfg, "camden", 3, "camden_probe")
    write_events(cfg, OTHER_ORG, 5, "hackney_probe")
    hidden_id = superuser.execute("select max(event_id) from audit.events").fetchone()[0]
    with connect(cfg, ADMIN) as admin:
        real_before = plans(admin, "audit.organisation_events", hidden_id)
        barrier_before = plans(admin, "audit.organisation_events_barrier", hidden_id)
        write_events(cfg, OTHER_ORG, 37, "hackney_probe")
        real_after = plans(admin, "audit.organisation_events", hidden_id)
        barrier_after = plans(admin, "audit.organisation_events_barrier", hidden_id)
        # Both return the same rows: the caller's organisation's events only.
        for view in ("audit.organisation_events", "audit.organisation_events_barrier"):
            orgs = {r[0] for r in admin.execute(f"select distinct organisation from {view}").fetchall()}
            assert orgs == {"camden"}, (view, orgs)
    # The old view: the plan's counts move with events the admin cannot see (Rows Removed by Filter).
    assert numbers(barrier_before) != numbers(barrier_after)
    assert any("Rows Removed by Filter" in p for p in barrier_after)
    # The function-backed view: byte-identical plans with 37 more hidden events.
    assert real_before == real_after, "\n---\n".join(real_after)
    assert all("Function Scan on private.organisation_events" in p for p in real_after), real_after[0]


def test_audit_report_is_for_granted_org_admins_only(cfg, superuser, audit_reader, keeper):
    write_events(cfg, "camden", 1, "camden_probe")
    with connect(cfg, ANALYST) as analyst:     # an org member without the grant
        with pytest.raises(errors.InsufficientPrivilege):
            analyst.execute("select * from audit.organisation_events")
        with pytest.raises(errors.InsufficientPrivilege):
            analyst.execute("select * from private.organisation_events()")
    with connect(cfg, ADMIN) as admin:
        with pytest.raises(errors.InsufficientPrivilege):   # only through the view
            admin.execute("select * from private.organisation_events()")
        assert admin.execute("select count(*) from audit.organisation_events").fetchone()[0] > 0
    # A role that can name the function (usage on private) but holds no grant on the view gets nothing.
    assert keeper.execute("select count(*) from private.organisation_events()").fetchone() == (0,)


# ---------------------------------------------------------------------------------------------------------
# 2. Analysts cannot change their own password or role settings to any effect
# ---------------------------------------------------------------------------------------------------------

def role_state(su, username: str) -> tuple:
    """What restore_login must never change: login, expiry, memberships."""
    return (su.execute("select rolcanlogin, rolvaliduntil from pg_roles where rolname = %s", (username,)).fetchone(),
            su.execute("select roleid::regrole::text from pg_auth_members where member = %s::regrole order by 1",
                       (username,)).fetchall())


def role_settings(su, username: str) -> list:
    return su.execute("select setdatabase, setconfig from pg_db_role_setting where setrole = %s::regrole"
                      " order by 1", (username,)).fetchall()


def tamper(cfg, username: str, chosen: str) -> None:
    """What any login role may do to itself, e.g. from SQL Lab."""
    with connect(cfg, username) as conn:
        conn.execute("alter role current_user reset all")   # keeps the superuser-only log_statement
        conn.execute(sql.SQL("alter role current_user password {}").format(sql.Literal(chosen)))
        conn.execute("alter role current_user set search_path = 'attacker, public'")
        conn.execute("alter role current_user in database safestats set statement_timeout = '1h'")


def test_an_analyst_password_and_settings_are_restored_by_the_keeper(cfg, bootstrap, superuser, users, keeper):
    before = role_state(superuser, ANALYST)
    chosen = "chosen-by-the-analyst-" + uuid.uuid4().hex
    tamper(cfg, ANALYST, chosen)
    # The attack works: a password of their own, and settings of their own.
    with psycopg.connect(bootstrap.as_user(ANALYST, chosen).conninfo()) as conn:
        assert conn.execute("select current_user").fetchone() == (ANALYST,)
    assert len(role_settings(superuser, ANALYST)) == 2
    _, _, lines = service.plan(cfg)
    summary = "\n".join(lines)
    assert f"user {ANALYST}: password changed outside SafeStats: restored" in summary, summary
    assert f"user {ANALYST}: role settings are the platform's again" in summary and "search_path" in summary

    assert set(keeper.execute("select private.restore_login(%s)", (ANALYST,)).fetchone()[0]) == \
        {"password", "settings"}
    assert keeper.execute("select private.restore_login(%s)", (ANALYST,)).fetchone()[0] == []
    with connect(cfg, ANALYST) as conn:                     # the recorded password works again
        assert conn.execute("select current_user").fetchone() == (ANALYST,)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(bootstrap.as_user(ANALYST, chosen).conninfo(), connect_timeout=5)
    assert role_settings(superuser, ANALYST) == [(0, ["log_statement=all"])]
    assert role_state(superuser, ANALYST) == before
    _, plan, lines = service.plan(cfg)
    assert not [c.summary for c in plan.changes if ANALYST in c.summary], lines


def test_policies_apply_repairs_what_an_analyst_changed(cfg, bootstrap, superuser, users):
    before = role_state(superuser, ANALYST)
    chosen = "chosen-by-the-analyst-" + uuid.uuid4().hex
    tamper(cfg, ANALYST, chosen)
    service.apply(cfg)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(bootstrap.as_user(ANALYST, chosen).conninfo(), connect_timeout=5)
    with connect(cfg, ANALYST) as conn:
        conn.execute("select 1")
    assert role_settings(superuser, ANALYST) == [(0, ["log_statement=all"])]
    assert role_state(superuser, ANALYST) == before
    _, plan, lines = service.plan(cfg)
    assert [c.summary for c in plan.changes if c.statements] == [], lines


def test_the_keeper_restores_named_users_only_and_reads_nothing(cfg, users, keeper):
    for role in ("safestats_dbt", "safestats_loader", "postgres", "org_camden", "safestats_login_keeper",
                 "no_such_role", "camden_analyst'; drop table private.login_verifiers; --"):
        with pytest.raises(errors.InsufficientPrivilege, match="not a named SafeStats user"):
            keeper.execute("select private.restore_login(%s)", (role,))
    for table in ("private.login_verifiers", "private.login_settings", "private.pseudonymisation_key",
                  "private.access_policy_statements", "private.audit_chain_head", "audit.events", "marts.dim_boroughs"):
        with pytest.raises(errors.InsufficientPrivilege):     # each exists: refused for want of privilege
            keeper.execute(f"select * from {table}")
    with pytest.raises(errors.InsufficientPrivilege):
        keeper.execute("select private.apply_access_policies('marts', 'dim_boroughs')")
    with pytest.raises(errors.InsufficientPrivilege):
        keeper.execute("alter role camden_analyst password 'x'")


def test_an_analyst_cannot_call_restore_login(cfg, users):
    with connect(cfg, ANALYST) as conn:
        for name in (ANALYST, "hackney_analyst"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("select private.restore_login(%s)", (name,))


# ---------------------------------------------------------------------------------------------------------
# 3. The server logs analysts' direct sessions, and they cannot switch it off
# ---------------------------------------------------------------------------------------------------------

def logged(cfg, marker: str, since: datetime, timeout: float = 10.0) -> list[audit.Session]:
    """The analyst's sessions since `since`, once the one that ran `marker` has ended (the collector writes
    asynchronously); what is there at the timeout otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        found = audit.sessions(cfg, user=ANALYST, since=since)
        if any(x.ended and any(marker in s for _, s in x.statements) for x in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_server_logs_as_configured(superuser):
    assert database.live_settings(superuser, database.SERVER_LOGGING) == database.SERVER_LOGGING


def test_a_direct_session_of_an_analyst_is_in_the_server_log(cfg, superuser, users, keeper):
    since = datetime.now(timezone.utc)
    marker = "direct-session-" + uuid.uuid4().hex
    with connect(cfg, ANALYST, application_name="probe-client") as conn:
        conn.execute(sql.SQL("select {}").format(sql.Literal(marker)))
    found = logged(cfg, marker, since)
    session = next(s for s in found if any(marker in st for _, st in s.statements))
    assert session.application_name == "probe-client" and session.database == "safestats"
    assert session.started >= since.replace(microsecond=0) and session.ended is not None

    # Weakened: the role's log_statement removed (only a superuser can): the connection, but no statement.
    superuser.execute(sql.SQL("alter role {} reset log_statement").format(sql.Identifier(ANALYST)))
    try:
        since, hidden = datetime.now(timezone.utc), "unlogged-" + uuid.uuid4().hex
        with connect(cfg, ANALYST, application_name="probe-unlogged") as conn:
            conn.execute(sql.SQL("select {}").format(sql.Literal(hidden)))
        found = logged(cfg, hidden, since, timeout=3.0)
        assert any(s.application_name == "probe-unlogged" for s in found)
        assert not any(hidden in st for s in found for _, st in s.statements)
    finally:
        assert "settings" in keeper.execute("select private.restore_login(%s)", (ANALYST,)).fetchone()[0]
    assert role_settings(superuser, ANALYST) == [(0, ["log_statement=all"])]


def test_an_analyst_cannot_switch_their_statement_log_off(cfg, bootstrap, superuser, users):
    with connect(cfg, ANALYST) as conn:
        for statement in ("set log_statement = 'none'", "select set_config('log_statement', 'none', false)",
                          "alter role current_user set log_statement = 'none'",
                          "alter role current_user reset log_statement",
                          "alter role current_user in database safestats set log_statement = 'none'",
                          "set log_min_messages = 'panic'", "set log_connections = off"):
            with pytest.raises((errors.InsufficientPrivilege, errors.CantChangeRuntimeParam)):
                conn.execute(statement)
        conn.execute("alter role current_user reset all")      # allowed, and leaves log_statement in place
    assert role_settings(superuser, ANALYST) == [(0, ["log_statement=all"])]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(service.user_endpoint(ANALYST, cfg).conninfo(options="-c log_statement=none"),
                        connect_timeout=5)


def test_an_older_data_directory_gets_the_log_settings(cfg, bootstrap, superuser):
    """A server from before this setup (collector off, no JSON log, nothing preloaded, initdb's buffers) is
    reconfigured and restarted by start."""
    for name in database.SERVER_SETTINGS:
        superuser.execute(sql.SQL("alter system reset {}").format(sql.Identifier(name)))
    superuser.close()
    database.pg_ctl(["-w", "-m", "fast", "-l", str(cfg.pgdata / "log"), "restart"], pgdata=cfg.pgdata)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        assert conn.execute("show logging_collector").fetchone() == ("off",)
        assert conn.execute("show shared_preload_libraries").fetchone() == ("",)
        assert conn.execute("show shared_buffers").fetchone() == ("128MB",)
    database.start(cfg)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        live = database.live_settings(conn, database.SERVER_SETTINGS)
    assert live == database.SERVER_SETTINGS


# ---------------------------------------------------------------------------------------------------------
# 4. Table statistics are not readable by analysts
# ---------------------------------------------------------------------------------------------------------

# audit.events: a table no analyst may read (nor name: no usage on its schema), so its oid is spelt out.
STAT_PROBES = {
    "view": "select n_live_tup from pg_stat_user_tables where relid = {oid}",
    "function": "select pg_stat_get_live_tuples({oid})",
}


def test_analysts_cannot_read_table_statistics(cfg, superuser, users):
    write_events(cfg, OTHER_ORG, 2, "hackney_probe")
    oid = superuser.execute("select 'audit.events'::regclass::oid").fetchone()[0]
    probes = {name: probe.format(oid=oid) for name, probe in STAT_PROBES.items()}
    deadline = time.monotonic() + 10
    while (true_count := superuser.execute(probes["view"]).fetchone()[0]) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert true_count > 0
    weakened = [sql.SQL("select on pg_catalog.pg_stat_user_tables"),
                sql.SQL("execute on function pg_catalog.pg_stat_get_live_tuples(oid)")]
    # Weakened: PostgreSQL's default grants to PUBLIC, given back to the analyst.
    for what in weakened:
        superuser.execute(sql.SQL("grant {} to {}").format(what, sql.Identifier(ANALYST)))
    try:
        with connect(cfg, ANALYST) as conn:   # statistics may be flushed again meanwhile: never fewer
            assert conn.execute(probes["view"]).fetchone()[0] >= true_count
            assert conn.execute(probes["function"]).fetchone()[0] >= true_count
    finally:
        for what in weakened:
            superuser.execute(sql.SQL("revoke {} from {}").format(what, sql.Identifier(ANALYST)))
    with connect(cfg, ANALYST) as conn:
        for probe in [*probes.values(),
                      "select * from pg_stat_all_tables", "select * from pg_statio_user_tables",
                      "select * from pg_stat_user_indexes", "select tup_inserted from pg_stat_database",
                      f"select pg_stat_get_tuples_inserted({oid})", f"select pg_stat_get_xact_tuples_inserted({oid})",
                      f"select pg_stat_get_blocks_fetched({oid})", f"select pg_stat_get_numscans({oid})"]:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(probe)
