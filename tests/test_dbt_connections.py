"""A dbt build keeps one connection per thread from node to node (dbt.keep_connections_open), where dbt itself
closes its connection after every node and logs in again for the next; and one build or test of a warehouse runs at
a time (dbt.warehouse_lock)."""
from __future__ import annotations

from safestats import dbt


def test_a_build_logs_in_once_per_thread_not_once_per_node(cfg, police_marts, monkeypatch):
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    opened = []
    login = PostgresConnectionManager.open.__func__

    def counted(cls, connection):
        opened.append(connection.name)
        return login(cls, connection)

    monkeypatch.setattr(PostgresConnectionManager, "open", classmethod(counted))
    outcome = dbt.run(["test", "--select", "staging"], cfg)
    nodes = sum(outcome.counts.values())
    assert outcome.success, outcome.failures
    # the invocation's own connection and one per thread (profiles.yml: 2), whatever the number of nodes
    assert nodes >= 20 and len(opened) <= 3, (nodes, opened)


def test_a_second_build_of_the_warehouse_waits_for_the_first(cfg, police_marts, superuser):
    """dbt.warehouse_lock: while another session holds the build lock (a build running), a dbt test waits for it,
    and runs once it is released. Without the lock, the run below finishes before the holder lets go, and no
    waiting request for the lock is ever seen."""
    import threading

    import psycopg

    from safestats import warehouse

    outcomes = []
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s, 0)", (dbt.BUILD_LOCK,))
        second = threading.Thread(target=lambda: outcomes.append(dbt.run(["test", "--select", "staging"], cfg)))
        second.start()
        waiting = False
        for _ in range(600):        # the second run's request for the lock, not granted
            waiting = superuser.execute(
                "select exists (select from pg_locks where locktype = 'advisory' and classid = %s and objid = 0"
                " and objsubid = 2 and not granted)", (dbt.BUILD_LOCK,)).fetchone()[0]
            if waiting or not second.is_alive():
                break
            second.join(0.1)
        finished_while_held = not second.is_alive()
        holder.execute("select pg_advisory_unlock(%s, 0)", (dbt.BUILD_LOCK,))
    second.join(600)
    assert waiting and not finished_while_held, (waiting, finished_while_held)
    assert outcomes and outcomes[0].success, outcomes and outcomes[0].failures
