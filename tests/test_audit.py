"""audit.events: insert-only for its writer, append-only for everyone (even the owner), hash-chained so that
`safestats audit verify` names the first event changed or removed behind the triggers' back."""
from __future__ import annotations

import subprocess
import sys
import threading

import psycopg
import pytest
from psycopg import errors

from safestats import audit, warehouse


@pytest.fixture
def writer(cfg):
    with psycopg.connect(warehouse.audit_writer_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


def last_event(superuser) -> tuple:
    return superuser.execute("select event_id, username, event_type, detail from audit.events"
                             " order by chain_position desc limit 1").fetchone()


def test_events_are_chained_one_to_the_next(cfg, superuser):
    audit.write("login", "someone", organisation="camden", object="superset", detail={"method": "form"}, cfg=cfg)
    audit.write("export", "someone", organisation="camden", object="chart 1", detail={"rows": 3}, cfg=cfg)
    rows = superuser.execute("select prev_hash, row_hash from audit.events order by chain_position").fetchall()
    assert all(prev == before for (prev, _), (_, before) in zip(rows[1:], rows[:-1]))
    assert all(len(h) == 64 for _, h in rows)
    assert audit.verify(superuser).ok


def test_the_writer_inserts_and_can_do_nothing_else(cfg, writer, superuser):
    writer.execute("insert into audit.events (username, event_type) values ('w', 'test')")
    for statement in ("select * from audit.events",
                      "update audit.events set username = 'x'",
                      "delete from audit.events",
                      "truncate audit.events",
                      "insert into audit.events (username, event_type, row_hash) values ('w', 'forged', 'abc')",
                      "select * from private.audit_chain_head"):
        with pytest.raises(errors.InsufficientPrivilege):
            writer.execute(statement)


def test_nobody_changes_or_removes_an_event_not_even_the_owner(superuser):
    first = "(select min(event_id) from audit.events)"
    for statement in (f"update audit.events set username = 'x' where event_id = {first}",
                      f"delete from audit.events where event_id = {first}",
                      "truncate audit.events"):
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            superuser.execute(statement)


def bypassing_triggers(superuser, statement: str, params=()) -> None:
    """A superuser's change to the append-only audit table, with its triggers off for that one statement."""
    with superuser.transaction():
        superuser.execute("alter table audit.events disable trigger user")
        superuser.execute(statement, params)
        superuser.execute("alter table audit.events enable trigger user")


def chain_verifies(superuser) -> None:
    assert audit.verify(superuser).ok


def test_a_row_changed_with_the_triggers_disabled_is_named_by_verify(cfg, superuser, undo):
    audit.write("sqllab_query", "tamper_target", detail={"sql": "select 1", "rows": 1}, cfg=cfg)
    audit.write("logout", "after_target", cfg=cfg)
    target = superuser.execute("select event_id, detail from audit.events where username = 'tamper_target'"
                               " order by event_id desc limit 1").fetchone()
    undo(chain_verifies, superuser)
    undo(bypassing_triggers, superuser, "update audit.events set detail = %s where event_id = %s",
         (psycopg.types.json.Jsonb(target[1]), target[0]))
    bypassing_triggers(superuser, "update audit.events set detail = '{\"sql\": \"select 1\", \"rows\": 0}'"
                                  " where event_id = %s", (target[0],))
    result = audit.verify(superuser)
    assert not result.ok and result.broken_event_id == target[0], result
    out = subprocess.run([sys.executable, "-m", "safestats.cli", "audit", "verify"], capture_output=True, text=True)
    assert out.returncode == 1 and f"event {target[0]}" in out.stderr, out.stderr


def test_a_removed_row_is_named_by_verify(cfg, superuser, undo):
    audit.write("logout", "removed_one", cfg=cfg)
    audit.write("logout", "next_one", cfg=cfg)
    removed = superuser.execute("select * from audit.events where username = 'removed_one'"
                                " order by event_id desc limit 1").fetchone()
    columns = [d.name for d in superuser.execute("select * from audit.events limit 0").description]
    following = superuser.execute("select event_id from audit.events where chain_position = %s",
                                  (removed[columns.index("chain_position")] + 1,)).fetchone()[0]
    undo(chain_verifies, superuser)
    undo(bypassing_triggers, superuser, f"insert into audit.events ({', '.join(columns)}) overriding system value"
                                        f" values ({', '.join(['%s'] * len(columns))})",
         [psycopg.types.json.Jsonb(v) if c == "detail" and v is not None else v for c, v in zip(columns, removed)])
    bypassing_triggers(superuser, "delete from audit.events where event_id = %s", (removed[0],))
    result = audit.verify(superuser)
    assert result.broken_event_id == following and "removed" in result.reason, result


def test_concurrent_writers_form_one_chain(cfg, superuser):
    def write_many(n: int) -> None:
        for i in range(15):
            audit.write("chart_data", f"concurrent_{n}", detail={"i": i}, cfg=cfg)

    threads = [threading.Thread(target=write_many, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert superuser.execute("select count(*) from audit.events where username like 'concurrent_%'"
                             ).fetchone()[0] == 60
    assert audit.verify(superuser).ok


def test_policies_apply_still_writes_into_the_chain(cfg, superuser):
    from safestats.policies import service

    service.apply(cfg)
    assert last_event(superuser)[2] == "policy_change"
    assert audit.verify(superuser).ok
