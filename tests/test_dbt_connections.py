"""A dbt build keeps one connection per thread from node to node (dbt.keep_connections_open), where dbt itself
closes its connection after every node and logs in again for the next."""
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
