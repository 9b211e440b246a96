"""private.warm_indexes: before a refresh changes a table's rows, the build reads the table's indexes in file order
(pg_prewarm); nobody but the build's role may call either function. That the refresh's tables call it:
test_incremental_build.py."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from safestats import warehouse
from safestats.policies import service

ANALYST = "camden_analyst"
PREWARM = "private.pg_prewarm(regclass, text, text, bigint, bigint)"
WARM = "private.warm_indexes(text)"
# tables the build's role owns, with an index keyed like the pseudonyms (random 64-character keys): one plain,
# one partitioned by borough
PROBE = "marts.warm_indexes_probe"
PROBE_PARTITIONED = "marts.warm_indexes_probe_by_borough"


@pytest.fixture
def dbt_role(cfg, bootstrap, undo):
    def drop():
        with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
            conn.execute(f"drop table if exists {PROBE}, {PROBE_PARTITIONED}")

    undo(drop)
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        conn.execute(f"create table {PROBE} as select encode(sha256(n::text::bytea), 'hex') as crime_pseudo_id,"
                     " 'E0900000' || (n % 2 + 1) as borough_code from generate_series(1, 20000) as n")
        conn.execute(f"create index on {PROBE} (crime_pseudo_id)")
        conn.execute(f"create index on {PROBE} (borough_code)")
        conn.execute(f"create table {PROBE_PARTITIONED} (crime_pseudo_id text, borough_code text)"
                     " partition by list (borough_code)")
        for n in (1, 2):
            conn.execute(f"create table {PROBE_PARTITIONED}_{n} partition of {PROBE_PARTITIONED}"
                         f" for values in ('E0900000{n}')")
        conn.execute(f"create index on {PROBE_PARTITIONED} (crime_pseudo_id)")
        conn.execute(f"insert into {PROBE_PARTITIONED} select * from {PROBE}")
        yield conn


def index_blocks(superuser, relation: str) -> int:
    """The blocks of the indexes of `relation` and of every partition under it, as the superuser counts them."""
    return superuser.execute(
        "select sum(pg_relation_size(i.indexrelid)) / current_setting('block_size')::int"
        " from (select %s::regclass as relid union select relid from pg_partition_tree(%s::regclass)) as p"
        " join pg_index as i on i.indrelid = p.relid"
        " join pg_class as c on c.oid = i.indexrelid where c.relkind = 'i'", (relation, relation)).fetchone()[0]


def test_warming_reads_every_index_of_a_table_and_of_its_partitions(superuser, dbt_role):
    plain, partitioned = index_blocks(superuser, PROBE), index_blocks(superuser, PROBE_PARTITIONED)
    assert plain > 100 and partitioned > 100           # two 20,000-key indexes, and one over two partitions
    assert dbt_role.execute("select private.warm_indexes(%s)", (PROBE,)).fetchone()[0] == plain
    assert dbt_role.execute("select private.warm_indexes(%s)", (PROBE_PARTITIONED,)).fetchone()[0] == partitioned
    # a table not built yet (a snapshot's first run) is nothing to read
    assert dbt_role.execute("select private.warm_indexes('snapshots.not_built_yet')").fetchone()[0] == 0


@pytest.fixture(scope="module")
def analyst(cfg, bootstrap):
    service.apply(cfg)
    with psycopg.connect(service.user_endpoint(ANALYST, cfg).conninfo(), autocommit=True) as conn:
        yield conn


def test_only_the_build_may_prewarm(cfg, superuser, analyst):
    members = [r[0] for r in superuser.execute(
        "select d.objid::regprocedure::text from pg_depend as d join pg_extension as x on x.oid = d.refobjid"
        " where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e' and x.extname = 'pg_prewarm'"
        " and d.classid = 'pg_proc'::regclass").fetchall()]
    assert len(members) == 3 and all(m.startswith("private.") for m in members), members
    for role in ["public", ANALYST, "safestats_loader", "safestats_superset_nobody", "safestats_audit_writer"]:
        for function in [*members, WARM]:
            assert not superuser.execute("select has_function_privilege(%s, %s, 'execute')",
                                         (role, function)).fetchone()[0], (role, function)
    for function in (PREWARM, WARM):
        assert superuser.execute("select has_function_privilege('safestats_dbt', %s, 'execute')",
                                 (function,)).fetchone()[0], function
    # an analyst calls it neither by its schema nor by its bare name (a relation every login may read)
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute("select private.pg_prewarm('pg_catalog.pg_class'::regclass, 'read')")
    with pytest.raises(errors.UndefinedFunction):
        analyst.execute("select pg_prewarm('pg_catalog.pg_class'::regclass, 'read')")
    with pytest.raises(errors.InsufficientPrivilege):
        analyst.execute("select private.warm_indexes('pg_catalog.pg_class')")
