"""What each organisation's database role reads of the published relations, asked of PostgreSQL itself (the
grants the policy compiler made from its agreement), so Superset lists and builds for an organisation only what
the database would let it read."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg
from psycopg import errors, sql

from safestats.superset.assets import Relation
from safestats.superset.dashboards import Viewer


def readable_columns(conn: psycopg.Connection, role: str, relations: Mapping[str, Relation]) -> dict[str, frozenset]:
    """relation -> the columns `role` may select: by its table and column grants for tables and views (and usage
    of their schema), and for a virtual dataset every column when the role may run its SQL, else none."""
    rows = conn.execute(
        "select n.nspname || '.' || c.relname, a.attname from pg_class c"
        " join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        " where n.nspname || '.' || c.relname = any(%s) and has_schema_privilege(%s, n.oid, 'USAGE')"
        " and has_column_privilege(%s, c.oid, a.attnum, 'SELECT')",
        ([q for q, r in relations.items() if r.kind != "virtual"], role, role)).fetchall()
    readable: dict[str, set[str]] = {}
    for relation, column in rows:
        readable.setdefault(relation, set()).add(column)
    for qualified, rel in relations.items():
        if rel.kind == "virtual" and runs_as(conn, role, rel.sql or ""):
            readable[qualified] = {c.name for c in rel.columns}
    return {k: frozenset(v) for k, v in readable.items()}


def runs_as(conn: psycopg.Connection, role: str, query: str) -> bool:
    """Whether PostgreSQL lets `role` run `query` (EXPLAIN checks every privilege the query needs; nothing runs)."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("explain {}").format(sql.SQL(query)))
    except (errors.InsufficientPrivilege, errors.UndefinedTable):
        return False
    return True


def viewers(conn: psycopg.Connection, organisations: Iterable, relations: Mapping[str, Relation],
            superset_role) -> list[Viewer]:
    """Every organisation whose database role exists, with what it reads; `superset_role(slug)` names its role
    in Superset."""
    existing = {r[0] for r in conn.execute("select rolname from pg_roles").fetchall()}
    return [Viewer(org.slug, org.name, superset_role(org.slug), readable_columns(conn, org.role, relations))
            for org in sorted(organisations, key=lambda o: o.slug) if org.role in existing]
