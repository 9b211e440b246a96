"""No row-count oracle on rows outside an agreement: EXPLAIN (ANALYZE), planner estimates and catalogue
counts tell an analyst nothing about the rows their agreement hides. Record-level marts are list-partitioned
by the columns agreements restrict on (macros/materialization_partitioned_table.sql), so a reader's query
plans and scans only its own partitions; each attack is shown working on a plain-table copy of the same
relation under the same policy (the layout before), and refused on the real one."""
from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from marts_data import ensure_police_marts
from psycopg import errors, sql

from safestats.policies import service
from safestats.policies.catalogue import load_catalogue

PROJECT = Path(__file__).resolve().parents[2]
READER, ORG_ROLE, OWN, HIDDEN = "camden_analyst", "org_camden", "E09000007", "E09000012"   # Camden; Hackney
RELATION = "fct_street_crimes"


@pytest.fixture(scope="module")
def su(cfg, bootstrap, contracts, tmp_path_factory):
    ensure_police_marts(cfg, bootstrap, contracts, tmp_path_factory.mktemp("oracle-landing"))
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def reader(cfg, su):
    with psycopg.connect(service.user_endpoint(READER, cfg).conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def flat(su):
    """The relation as it was laid out before: one plain table, under the very policy and grant Camden has."""
    policy = su.execute("select qual from pg_policies where schemaname = 'marts' and tablename = %s"
                        " and %s = any(roles)", (RELATION, ORG_ROLE)).fetchone()[0]
    name = sql.Identifier("marts", f"{RELATION}_flat")
    su.execute(sql.SQL("create table {} as select * from {}").format(name, sql.Identifier("marts", RELATION)))
    su.execute(sql.SQL("alter table {} enable row level security").format(name))
    su.execute(sql.SQL("create policy camden on {} for select to {} using ({})").format(
        name, sql.Identifier(ORG_ROLE), sql.SQL(policy)))
    su.execute(sql.SQL("grant select on {} to {}").format(name, sql.Identifier(ORG_ROLE)))
    su.execute(sql.SQL("analyze {}").format(name))
    yield f"{RELATION}_flat"
    su.execute(sql.SQL("drop table {}").format(name))


def plan(conn, relation: str, where: str = "true", analyze: bool = True) -> dict:
    options = "analyze, timing off, summary off, buffers off, format json" if analyze else "format json"
    query = sql.SQL("explain ({}) select * from {} where {}").format(
        sql.SQL(options), sql.Identifier("marts", relation), sql.SQL(where))
    return conn.execute(query).fetchone()[0][0]["Plan"]


def nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def counts(node: dict) -> list:
    """Every number in a plan that depends on rows: actual rows, rows removed, estimates."""
    keys = ("Actual Rows", "Rows Removed by Filter", "Plan Rows", "Actual Loops")
    return [(n["Node Type"], n.get("Relation Name"), *(n.get(k) for k in keys)) for n in nodes(node)]


def hidden_rows_added(su, extra: int) -> None:
    """More rows in the hidden borough (as the platform would after a refresh), then statistics refreshed."""
    rel = sql.Identifier("marts", RELATION)
    su.execute(sql.SQL("insert into {rel} select * from {rel} where borough_code = %s limit %s").format(rel=rel),
               (HIDDEN, extra))
    su.execute(sql.SQL("analyze {}").format(rel))


def test_explain_analyze_counts_no_row_outside_the_agreement(su, reader, flat):
    probes = ["true", f"borough_code = '{HIDDEN}'", f"borough_code <> '{OWN}'", "crime_type is not null"]
    weak = {p: counts(plan(reader, flat, p)) for p in probes}
    removed = [n.get("Rows Removed by Filter") for n in nodes(plan(reader, flat))]
    assert any(removed), "the plain layout removed no hidden rows: this test would prove nothing"
    su.execute(sql.SQL("analyze {}").format(sql.Identifier("marts", RELATION)))   # the reader's estimates settle
    before = {p: counts(plan(reader, RELATION, p)) for p in probes}
    for node in nodes(plan(reader, RELATION)):
        assert not node.get("Rows Removed by Filter"), node
        if node.get("Relation Name"):
            assert node["Relation Name"].startswith(f"{RELATION}__{OWN.lower()}_"), node["Relation Name"]
    hidden_rows_added(su, 25)
    try:
        assert {p: counts(plan(reader, RELATION, p)) for p in probes} == before
        su.execute(sql.SQL("insert into {} select * from {} where borough_code = %s limit 25").format(
            sql.Identifier("marts", flat), sql.Identifier("marts", RELATION)), (HIDDEN,))
        assert {p: counts(plan(reader, flat, p)) for p in probes} != weak
    finally:
        rel = sql.Identifier("marts", RELATION)
        su.execute(sql.SQL("delete from {rel} where borough_code = %s and ctid in (select ctid from {rel}"
                           " where borough_code = %s order by ctid desc limit 25)").format(rel=rel), (HIDDEN, HIDDEN))


def test_planner_estimates_say_nothing_of_hidden_boroughs(su, reader, flat):
    """The residual channel of the plain layout: estimates from whole-table statistics, made precise by a
    cross join, gave the relative size of any hidden borough. Partitions keep statistics of their own rows;
    the parent none."""
    rel = sql.Identifier("marts", RELATION)
    su.execute(sql.SQL("analyze {}").format(rel))
    by_borough = dict(su.execute(sql.SQL("select borough_code, count(*) from {} where borough_code <> %s"
                                         " group by 1").format(rel), (OWN,)).fetchall())
    big, small = max(by_borough, key=by_borough.get), min(by_borough, key=by_borough.get)
    assert by_borough[big] > by_borough[small]

    def estimate(relation: str, borough: str) -> float:
        return reader.execute(sql.SQL(
            "explain (format json) select 1 from {} a, generate_series(1, 1000000) g"
            " where (a.borough_code = {} or (g.g = 0 and g.g = 1 and g.g = 2 and g.g = 3))").format(
                sql.Identifier("marts", relation), sql.Literal(borough))).fetchone()[0][0]["Plan"]["Plan Rows"]

    assert estimate(flat, big) / estimate(flat, small) == pytest.approx(by_borough[big] / by_borough[small],
                                                                         rel=0.01)
    assert estimate(RELATION, big) == estimate(RELATION, small)


def test_catalogue_row_counts_and_sizes_are_not_readable(su, reader):
    partition = su.execute("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
                           " where i.inhparent = 'marts.fct_street_crimes'::regclass and c.relname like %s",
                           (f"%__{HIDDEN.lower()}_%",)).fetchone()[0]
    probes = [f"select reltuples from pg_class where relname = '{partition}'",
              f"select relpages from pg_class where relname = '{partition}'",
              "select * from pg_class limit 1",
              f"select pg_relation_size('marts_partitions.{partition}')",
              f"select pg_total_relation_size('marts_partitions.{partition}')",
              f"select pg_table_size('marts_partitions.{partition}')",
              f"select pg_relation_size('marts_partitions.{partition}', 'main')",
              "select pg_database_size(current_database())", "select pg_tablespace_size('pg_default')"]
    su.execute(f"analyze marts_partitions.{partition}")
    hidden = su.execute(f"select count(*) from marts_partitions.{partition}").fetchone()[0]
    su.execute(f"grant select on pg_class to {ORG_ROLE}")     # weakened: the default grant
    try:
        assert reader.execute(probes[0]).fetchone()[0] == hidden
    finally:
        su.execute(f"revoke select on pg_class from {ORG_ROLE}")
    for probe in probes:
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute(probe)
    # what clients need of the catalogue still works
    assert reader.execute("select relname, relkind from pg_class where relname = %s"
                          " and relnamespace = 'marts'::regnamespace", (RELATION,)).fetchone() == (RELATION, "p")
    with pytest.raises(errors.InsufficientPrivilege):
        reader.execute(f"select count(*) from marts_partitions.{partition}")


def test_every_record_level_relation_is_laid_out_by_what_agreements_restrict_on(su):
    catalogue = load_catalogue(PROJECT / "models")
    record = [r for r in catalogue.values() if r.level == "record"]
    assert record
    for rel in record:
        wanted = [c for c in (rel.geography_column, rel.site_column) if c]
        assert list(rel.partition_columns) == wanted, rel.name
    built = dict(su.execute("select c.relname, c.relkind from pg_class c where c.relnamespace = 'marts'::regnamespace"
                            " and c.relname = any(%s)", ([r.name for r in record],)).fetchall())
    assert built.get(RELATION) == "p"
    assert {name for name, kind in built.items() if kind != "p"} == set(), built
    layouts = dict(su.execute(
        "select c.relname, pg_get_partkeydef(c.oid) from pg_class c"
        " where c.relnamespace = 'marts'::regnamespace and c.relkind = 'p'").fetchall())
    for rel in record:
        if rel.name in layouts:
            assert re.fullmatch(r"LIST \((\w+)\)", layouts[rel.name])[1] == rel.partition_columns[0], rel.name
    assert not su.execute("select count(*) from pg_statistic s join pg_class c on c.oid = s.starelid"
                          " where c.relnamespace = 'marts'::regnamespace and c.relkind = 'p'").fetchone()[0]
    json.dumps(layouts)
