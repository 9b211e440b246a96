"""`safestats db top-queries`: the slowest statements by mean time, from pg_stat_statements.

Read as the bootstrap superuser: pg_stat_statements holds every role's statements, so nobody else may read it
(see the end of sql/bootstrap.sql). Constants in the statements are normalised to $1, $2... by the module.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from safestats import database


@dataclass(frozen=True)
class Statement:
    role: str
    calls: int
    mean_ms: float
    total_ms: float
    rows: int
    query: str


def _schema(conn: psycopg.Connection) -> str:
    row = conn.execute("select n.nspname from pg_extension as x join pg_namespace as n on n.oid = x.extnamespace"
                       " where x.extname = 'pg_stat_statements'").fetchone()
    if row is None:
        raise database.DatabaseError(
            "pg_stat_statements is not installed in this database: run `safestats db start` (the embedded server "
            "installs it); on an external server add it to shared_preload_libraries and run `safestats db start`")
    return row[0]


def top_queries(ep: database.Endpoint, limit: int = 20, user: str | None = None) -> list[Statement]:
    """The `limit` statements with the highest mean execution time in the warehouse database, optionally only
    those run by the role `user`."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        view = sql.Identifier(_schema(conn), "pg_stat_statements")
        query = sql.SQL("""
            select coalesce(r.rolname, s.userid::text), s.calls, s.mean_exec_time, s.total_exec_time, s.rows,
                   s.query
            from {view} as s
            left join pg_catalog.pg_roles as r on r.oid = s.userid
            where s.dbid = (select d.oid from pg_catalog.pg_database as d where d.datname = current_database())
              and (%(user)s::text is null or r.rolname = %(user)s::text)
            order by s.mean_exec_time desc, s.calls desc
            limit %(limit)s
        """).format(view=view)
        try:
            rows = conn.execute(query, {"user": user, "limit": limit}).fetchall()
        except errors.ObjectNotInPrerequisiteState as exc:   # installed, but not preloaded at server start
            raise database.DatabaseError(f"{str(exc).strip().splitlines()[0]}: restart the server "
                                         "(`safestats db stop && safestats db start`)") from None
    return [Statement(role, calls, mean, total, nrows, " ".join(text.split()))
            for role, calls, mean, total, nrows, text in rows]
