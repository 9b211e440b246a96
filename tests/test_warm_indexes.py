"""A refresh reads the warehouse's indexes in file order as its build starts (refresh.warm_indexes, pg_prewarm),
and nobody but the build's role may call pg_prewarm."""
from __future__ import annotations

import logging

import psycopg
import pytest
from psycopg import errors

from safestats import dbt, refresh, warehouse

ANALYST = "camden_analyst"
PREWARM = "private.pg_prewarm(regclass, text, text, bigint, bigint)"
# a table the build's role owns, with an index keyed like the pseudonyms: 40,000 random 64-character keys
PROBE = "marts.warm_indexes_probe"


@pytest.fixture
def probe(cfg, bootstrap, undo):
    def drop():
        with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
            conn.execute(f"drop table if exists {PROBE}")

    undo(drop)
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        conn.execute(f"create table {PROBE} as select encode(sha256(n::text::bytea), 'hex') as crime_pseudo_id"
                     " from generate_series(1, 40000) as n")
        conn.execute(f"create index on {PROBE} (crime_pseudo_id)")


def owned_indexes(superuser) -> tuple[int, int]:
    """(indexes, bytes) of the tables safestats_dbt owns, a megabyte or more, as the superuser counts them."""
    return superuser.execute(
        "select count(*), coalesce(sum(pg_relation_size(i.indexrelid)), 0) from pg_index as i"
        " join pg_class as t on t.oid = i.indrelid join pg_class as c on c.oid = i.indexrelid"
        " where t.relowner = 'safestats_dbt'::regrole and c.relkind = 'i' and pg_relation_size(i.indexrelid) >= %s",
        (refresh.WARM_MIN_BYTES,)).fetchone()


def test_warming_reads_every_index_of_the_build(cfg, superuser, probe):
    indexes, size = owned_indexes(superuser)
    probe_size = superuser.execute(
        "select sum(pg_relation_size(indexrelid)) from pg_index where indrelid = %s::regclass", (PROBE,)).fetchone()[0]
    assert probe_size >= refresh.WARM_MIN_BYTES
    warmed = refresh.warm_indexes(cfg)
    assert (warmed.indexes, warmed.bytes) == (indexes, size)
    assert warmed.bytes >= probe_size


def test_a_refresh_warms_as_its_build_starts_and_a_full_one_does_not(cfg, probe, monkeypatch, caplog):
    """The build itself is dbt's stand-in: what is under test is what the refresh does beside it."""
    started = []

    def build(*args, **kwargs):
        started.append(kwargs["incremental"])
        return dbt.DbtOutcome(success=True)

    monkeypatch.setattr(dbt, "build", build)
    with caplog.at_level(logging.INFO, logger=refresh.__name__):
        refresh.build(cfg=cfg)
        refreshed = [r.getMessage() for r in caplog.records if r.name == refresh.__name__]
        caplog.clear()
        refresh.build(full=True, cfg=cfg)
        full = [r.getMessage() for r in caplog.records if r.name == refresh.__name__]
    assert started == [True, False]
    assert any(m.startswith("read ") and " indexes (" in m for m in refreshed), refreshed
    assert not any(" indexes (" in m for m in full), full


def test_an_index_dropped_while_warming_is_passed_over(cfg, superuser, probe, monkeypatch):
    """The build runs beside the warming and may drop a table between the listing and its reading: the indexes
    after it are read all the same."""
    monkeypatch.setattr(refresh, "OWNED_INDEXES",
                        "select 'marts.warm_indexes_probe_gone' union all (" + refresh.OWNED_INDEXES + ")")
    assert refresh.warm_indexes(cfg).indexes == owned_indexes(superuser)[0] > 0


def test_only_the_build_may_prewarm(cfg, superuser, analyst):
    members = [r[0] for r in superuser.execute(
        "select d.objid::regprocedure::text from pg_depend as d join pg_extension as x on x.oid = d.refobjid"
        " where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e' and x.extname = 'pg_prewarm'"
        " and d.classid = 'pg_proc'::regclass").fetchall()]
    assert len(members) == 3 and all(m.startswith("private.") for m in members), members
    for role in ["public", ANALYST, "safestats_loader", "safestats_superset_nobody", "safestats_audit_writer"]:
        for member in members:
            assert not superuser.execute("select has_function_privilege(%s, %s, 'execute')",
                                         (role, member)).fetchone()[0], (role, member)
    assert superuser.execute("select has_function_privilege('safestats_dbt', %s, 'execute')",
                             (PREWARM,)).fetchone()[0]
    # an analyst calls it neither by its schema nor by its bare name (a relation every login may read)
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute("select private.pg_prewarm('pg_catalog.pg_class'::regclass, 'read')")
    with pytest.raises(errors.UndefinedFunction):
        analyst.execute("select pg_prewarm('pg_catalog.pg_class'::regclass, 'read')")
