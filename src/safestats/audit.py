"""The audit trail: write events as the insert-only writer role, verify the hash chain end to end, and read
the server's own log of direct database sessions."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg

from safestats import database, warehouse
from safestats.config import Settings, settings

GENESIS_HASH = "0" * 64


def write(event_type: str, username: str, *, organisation: str | None = None, object: str | None = None,
          detail: dict | None = None, cfg: Settings | None = None) -> None:
    """One event, as safestats_audit_writer (INSERT only; the database chains it). Raises when it cannot."""
    with psycopg.connect(warehouse.audit_writer_endpoint(cfg).conninfo(connect_timeout=5), autocommit=True) as conn:
        conn.execute("insert into audit.events (username, organisation, event_type, object, detail)"
                     " values (%s, %s, %s, %s, %s)",
                     (username, organisation, event_type, object, json.dumps(detail) if detail is not None else None))


@dataclass(frozen=True)
class Verification:
    events: int
    broken_event_id: int | None = None     # the first event whose link does not hold
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify(conn: psycopg.Connection) -> Verification:
    """Walk the chain in order: every position present, each prev_hash the previous row_hash, each row_hash
    recomputed from the row as it is now, and the chain head at the last row (rows cut off the end)."""
    rows = conn.execute(
        "select event_id, chain_position, prev_hash, row_hash,"
        " private.audit_row_hash(prev_hash, chain_position, event_time, username, organisation, event_type,"
        "                        object, detail)"
        " from audit.events order by chain_position").fetchall()
    previous_hash, expected_position = GENESIS_HASH, 1
    for event_id, position, prev_hash, row_hash, recomputed in rows:
        if position != expected_position:
            return Verification(len(rows), event_id, f"event {event_id} is at chain position {position} where "
                                f"{expected_position} was expected: {position - expected_position} event(s) removed")
        if prev_hash != previous_hash:
            return Verification(len(rows), event_id, f"event {event_id} does not link to the event before it "
                                "(prev_hash differs): an earlier event was changed or removed")
        if recomputed != row_hash:
            return Verification(len(rows), event_id, f"event {event_id} was changed after it was written "
                                "(its content no longer matches its row_hash)")
        previous_hash, expected_position = row_hash, expected_position + 1
    head_position, head_hash = conn.execute(
        "select chain_position, row_hash from private.audit_chain_head").fetchone()
    if (head_position, head_hash) != (expected_position - 1, previous_hash):
        last = rows[-1][0] if rows else None
        return Verification(len(rows), last, f"the chain head is at position {head_position} but the last event "
                            f"is at {expected_position - 1}: events were removed from the end")
    return Verification(len(rows))


def verify_install(cfg: Settings | None = None) -> Verification:
    cfg = cfg or settings()
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        return verify(conn)


@dataclass
class Session:
    """One database session as the server logged it: who, when, from which application, what it ran."""
    username: str
    database: str
    started: datetime
    process: int
    application_name: str | None = None
    host: str | None = None
    ended: datetime | None = None
    statements: list[tuple[datetime, str]] = field(default_factory=list)


def _log_time(text: str) -> datetime:
    # log_timezone is UTC (database.SERVER_LOGGING): '2025-01-02 03:04:05.678 UTC', session_start whole seconds
    return datetime.fromisoformat(text.removesuffix(" UTC")).replace(tzinfo=timezone.utc)


def sessions(cfg: Settings | None = None, *, user: str | None = None, since: datetime | None = None
             ) -> list[Session]:
    """Client sessions in the embedded server's JSON logs, oldest first: connections are logged for every
    role, statements for each named user (their role's log_statement, which they cannot turn off)."""
    found: dict[str, Session] = {}
    for path in sorted(database.log_directory(cfg).glob("*.json")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue   # a line still being written
            if entry.get("backend_type") != "client backend" or not entry.get("user"):
                continue
            if user is not None and entry["user"] != user:
                continue
            at = _log_time(entry["timestamp"])
            session = found.get(entry["session_id"])
            if session is None:
                session = found[entry["session_id"]] = Session(
                    entry["user"], entry.get("dbname") or "", _log_time(entry["session_start"]), entry["pid"],
                    host=entry.get("remote_host"))
            message = entry.get("message") or ""
            session.application_name = entry.get("application_name") or session.application_name
            if message.startswith("connection authorized:") and "application_name=" in message:
                session.application_name = message.split("application_name=", 1)[1].split(" ")[0]
            elif message.startswith("disconnection:"):
                session.ended = at
            elif message.startswith(("statement: ", "execute ")) and entry.get("error_severity") == "LOG":
                session.statements.append((at, message.split(": ", 1)[1]))
    return sorted((s for s in found.values() if since is None or (s.ended or datetime.max.replace(
        tzinfo=timezone.utc)) >= since), key=lambda s: (s.started, s.process))
