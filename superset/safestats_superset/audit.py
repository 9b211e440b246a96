"""Write audit events into PostgreSQL as safestats_audit_writer (INSERT only; the database hash-chains them)."""
from __future__ import annotations

import json
import logging

from safestats_superset import runtime

WRITER = "safestats_audit_writer"
logger = logging.getLogger("safestats.audit")


class AuditUnavailable(RuntimeError):
    """The event could not be written: whatever needed it (an export) must be refused."""


def write(event_type: str, username: str | None, object: str | None = None, detail: dict | None = None) -> None:
    try:
        conn = runtime.connect(WRITER)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("insert into audit.events (username, organisation, event_type, object, detail)"
                            " values (%s, %s, %s, %s, %s)",
                            (username or "(anonymous)", runtime.organisation_of(username), event_type, object,
                             json.dumps(detail, default=str) if detail is not None else None))
        finally:
            conn.close()
    except Exception as exc:
        logger.error("audit event %s for %s could not be written: %s", event_type, username, exc)
        raise AuditUnavailable(str(exc)) from exc


def try_write(event_type: str, username: str | None, object: str | None = None, detail: dict | None = None) -> bool:
    """For events that must not stop what they record (a logout): logged loudly when they fail."""
    try:
        write(event_type, username, object, detail)
        return True
    except AuditUnavailable:
        return False
