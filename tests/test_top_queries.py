"""`safestats db top-queries`: pg_stat_statements for the platform team, and for nobody else."""
from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from psycopg import errors

from safestats import database, warehouse
from safestats.top_queries import top_queries

ANALYST = "camden_analyst"
PROBE = "select /* top-queries-probe */ pg_sleep(0.5)"   # slower than any dashboard query of the session


def test_top_queries_names_the_analysts_slow_statement(cfg, bootstrap, analyst):
    for _ in range(2):
        analyst.execute(PROBE)
    rows = top_queries(database.endpoint(cfg), limit=50, user=ANALYST)
    probe = [r for r in rows if "top-queries-probe" in r.query]
    assert len(probe) == 1, rows
    assert probe[0].role == ANALYST and probe[0].calls >= 2 and probe[0].mean_ms >= 40 and probe[0].rows >= 2
    assert {r.role for r in rows} == {ANALYST}
    assert [r.mean_ms for r in rows] == sorted((r.mean_ms for r in rows), reverse=True)

    out = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "top-queries", "--limit", "5",
                          "--user", ANALYST], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    header, *lines = out.stdout.splitlines()
    assert header.split() == ["mean_ms", "total_ms", "calls", "rows", "role", "query"]
    assert 1 <= len(lines) <= 5 and any("top-queries-probe" in line and ANALYST in line for line in lines)

    bad = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "top-queries", "--limit", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "positive" in bad.stderr


@pytest.mark.parametrize("statement", [
    "select * from monitoring.pg_stat_statements",
    "select * from monitoring.pg_stat_statements(true)",
    "select * from monitoring.pg_stat_statements_info",
    "select monitoring.pg_stat_statements_reset()",
])
def test_an_analyst_cannot_read_or_reset_query_statistics(analyst, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute(statement)


def test_nobody_but_the_superuser_holds_a_grant_on_query_statistics(cfg, superuser, analyst):
    members = superuser.execute("""
        select d.classid::regclass::text, d.objid from pg_depend as d join pg_extension as x on x.oid = d.refobjid
        where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e' and x.extname = 'pg_stat_statements'
          and d.classid in ('pg_proc'::regclass, 'pg_class'::regclass)""").fetchall()
    assert len(members) >= 4
    roles = ["public", ANALYST, "safestats_dbt", "safestats_loader", "safestats_superset_nobody"]
    for role in roles:
        assert not superuser.execute("select has_schema_privilege(%s, 'monitoring', 'usage')", (role,)).fetchone()[0]
        for classid, objid in members:
            check = ("select has_function_privilege(%s, %s::oid, 'execute')" if classid == "pg_proc"
                     else "select has_table_privilege(%s, %s::oid, 'select')")
            assert not superuser.execute(check, (role, objid)).fetchone()[0], (role, classid, objid)
    # the service roles cannot reach it either
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as dbt:
        with pytest.raises(errors.InsufficientPrivilege):
            dbt.execute("select count(*) from monitoring.pg_stat_statements")


def test_passwords_never_reach_the_query_statistics(cfg, superuser):
    """Utility statements are kept verbatim by pg_stat_statements: they are not tracked at all."""
    assert superuser.execute("show pg_stat_statements.track_utility").fetchone() == ("off",)
    superuser.execute("drop role if exists top_queries_probe")
    superuser.execute("create role top_queries_probe login password 'tq-secret-4f1c'")
    superuser.execute("alter role top_queries_probe password 'tq-secret-9a7e'")
    superuser.execute("drop role top_queries_probe")
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        conn.execute("select set_config('application_name', 'tq-secret-select', false)")
        leaked = conn.execute("select count(*) from monitoring.pg_stat_statements where query like '%tq-secret%'"
                              ).fetchone()[0]
    assert leaked == 0
