"""Write audit events into PostgreSQL as safestats_audit_writer (INSERT only; the database hash-chains them)."""
from __future__ import annotations

import json
import logging
import os
import threading

from safestats_superset import runtime

WRITER = "safestats_audit_writer"
logger = logging.getLogger("safestats.audit")
INSERT = ("insert into audit.events (username, organisation, event_type, object, detail)"
          " values (%s, %s, %s, %s, %s)")
_local = threading.local()      # one writer connection per thread of each worker process


class AuditUnavailable(RuntimeError):
    """The event could not be written: whatever needed it (an export) must be refused."""


def _connection():
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or _local.pid != os.getpid():
        conn = runtime.connect(WRITER)
        _local.conn, _local.pid = conn, os.getpid()
    return conn


def _forget() -> None:
    conn, _local.conn = getattr(_local, "conn", None), None
    if conn is not None and _local.pid == os.getpid():
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a broken connection is being dropped anyway
            pass


def _insert(row: tuple) -> None:
    conn = _connection()
    with conn, conn.cursor() as cur:
        cur.execute(INSERT, row)


def write(event_type: str, username: str | None, object: str | None = None, detail: dict | None = None) -> None:
    """The event is committed before this returns, or AuditUnavailable is raised. The thread's connection is kept
    for its next event (a connection costs a password exchange, more than the insert); a failed insert drops it
    and tries once more on a new one, which is what a restarted server needs and what a refused login fails."""
    row = (username or "(anonymous)", runtime.organisation_of(username), event_type, object,
           json.dumps(detail, default=str) if detail is not None else None)
    try:
        try:
            _insert(row)
        except Exception:  # noqa: BLE001 - whatever broke, the second try on a new connection decides
            _forget()
            _insert(row)
    except Exception as exc:
        _forget()
        logger.error("audit event %s for %s could not be written: %s", event_type, username, exc)
        raise AuditUnavailable(str(exc)) from exc


def try_write(event_type: str, username: str | None, object: str | None = None, detail: dict | None = None) -> bool:
    """For events that must not stop what they record (a logout): logged loudly when they fail."""
    try:
        write(event_type, username, object, detail)
        return True
    except AuditUnavailable:
        return False
