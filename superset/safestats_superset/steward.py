"""The governance tables as Superset reaches them: functions only (sql/governance.sql), as safestats_user_steward.
Each function decides for itself whether the actor may act; a refusal comes back as Refused, in its own words."""
from __future__ import annotations

import hashlib

from safestats_superset import runtime


class Refused(Exception):
    """The database refused the change (who acts, on whom, or what), with its reason."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


READS = frozenset({"invitation", "second_factor", "named_users", "organisation_users", "user_history",
                   "organisation_activity"})


def call(function: str, *args, rows: bool = False):
    """`select * from governance.<function>(args...)` in one transaction: every row, or the first value. After a
    change, this worker reads the named users again at once (others within runtime.NAMED_USERS_SECONDS)."""
    import psycopg2

    placeholders = ", ".join(["%s"] * len(args))
    conn = runtime.connect(runtime.STEWARD)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"select * from governance.{function}({placeholders})", args)
            if rows:
                names = [c.name for c in cur.description]
                return [dict(zip(names, r)) for r in cur.fetchall()]
            found = cur.fetchone()
            return found[0] if found else None
    except psycopg2.Error as exc:
        if exc.pgcode and exc.pgcode[:2] in ("42", "23", "P0", "02"):   # privilege, check, raised, no data
            raise Refused((exc.diag.message_primary or str(exc)).strip()) from exc
        raise
    finally:
        conn.close()
        if function not in READS:
            runtime.forget_named_users()
