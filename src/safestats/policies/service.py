"""`safestats policies plan|apply|matrix` and `safestats dev dsn`: the edges call these."""
from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from safestats import credentials, database
from safestats.config import Settings, settings
from safestats.policies import governance
from safestats.policies.agreements import Agreements, load_agreements
from safestats.policies.catalogue import MartRelation, load_catalogue
from safestats.policies.compiler import MARTS
from safestats.policies.plan import Plan, apply_plan, make_plan, rendered


@dataclass
class Policies:
    agreements: Agreements
    catalogue: dict[str, MartRelation]


def load(cfg: Settings | None = None) -> Policies:
    cfg = cfg or settings()
    catalogue = load_catalogue(cfg.project_dir / "models")
    return Policies(load_agreements(cfg.project_dir / "access_policies", catalogue), catalogue)


def _governed(conn: psycopg.Connection, policies: Policies, actor: str) -> tuple[Policies, list[str]]:
    """The agreements' facts recorded and the YAML users imported into the governance tables, then every named
    user as the tables hold them (administrators' changes included)."""
    governance.record_agreements(conn, policies.agreements)
    imported = governance.import_users(conn, policies.agreements, actor)
    live = governance.with_live_users(conn, policies.agreements)
    governance.enrol_second_factors(conn, sorted(u.username for u in live.users.values() if u.source == "import"))
    return Policies(live, policies.catalogue), imported


def plan(cfg: Settings | None = None, today: date | None = None) -> tuple[Policies, Plan, list[str]]:
    cfg = cfg or settings()
    with psycopg.connect(database.endpoint(cfg).conninfo()) as conn:
        policies, imported = _governed(conn, load(cfg), "safestats policies plan")
        p = make_plan(conn, policies.agreements, policies.catalogue, today or date.today(),
                      credentials.user_passwords(cfg), credentials.new_password)
        lines = [f"- user {line}" for line in imported] + rendered(p, conn)
        conn.rollback()    # a plan changes nothing, the import included
        return policies, p, lines


def apply(cfg: Settings | None = None, today: date | None = None) -> Plan:
    """Make the database match access_policies/ and the governance tables (idempotent); new passwords go to the
    0600 file."""
    cfg = cfg or settings()
    actor = f"{getpass.getuser()} (safestats policies apply)"
    with psycopg.connect(database.endpoint(cfg).conninfo()) as conn:
        with conn.transaction():
            policies, imported = _governed(conn, load(cfg), actor)
        p = make_plan(conn, policies.agreements, policies.catalogue, today or date.today(),
                      credentials.user_passwords(cfg), credentials.new_password)
        for line in imported:
            p.add(f"user {line}")
        if p.new_passwords:
            # saved first: a password set in the database must never be lost
            credentials.save_user_passwords(p.new_passwords, cfg)
        apply_plan(conn, p, policies.catalogue, actor=actor)
    return p


def load_live(cfg: Settings | None = None) -> Policies:
    """The policies with the named users the governance tables hold now (read only)."""
    cfg = cfg or settings()
    policies = load(cfg)
    with psycopg.connect(database.endpoint(cfg).conninfo()) as conn:
        return Policies(governance.with_live_users(conn, policies.agreements), policies.catalogue)


def user_endpoint(username: str, cfg: Settings | None = None) -> database.Endpoint:
    cfg = cfg or settings()
    password = credentials.user_passwords(cfg).get(username)
    if password is None:
        raise database.DatabaseError(f"no credentials for user {username!r} in this install "
                                     "(is the user in access_policies/users and has `safestats policies apply` run?)")
    return database.endpoint(cfg).as_user(username, password)


def matrix(cfg: Settings | None = None, today: date | None = None) -> list[dict]:
    """For each organisation and marts relation: the access compiled and the rows its users see now."""
    cfg = cfg or settings()
    policies = load(cfg)
    today = today or date.today()
    rows = []
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        existing = {r[0] for r in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s", (MARTS,)).fetchall()}
        for org in sorted(policies.agreements.organisations.values(), key=lambda o: o.slug):
            for rel in sorted(policies.catalogue):
                access = org.datasets.get(policies.catalogue[rel].dataset)
                reference = policies.catalogue[rel].level == "reference"
                row = {"organisation": org.slug, "relation": f"{MARTS}.{rel}",
                       "agreement": ("in force" if org.has_access(today) else "no access"),
                       "level": access.level if access else ("reference" if reference else "-"),
                       "geography": ("-" if not access else "London" if access.scope is None
                                     else access.scope.describe()),
                       "rows_visible": None, "columns": None}
                if rel in existing:
                    row["columns"], row["rows_visible"] = _seen_by(conn, org.role, rel)
                rows.append(row)
    return rows


def _seen_by(conn, role: str, relation: str) -> tuple[str, int]:
    """What the role itself sees: the count under its own policies, as the database enforces them."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if not exists:
        return "no role", 0
    columns = conn.execute(
        "select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relname = %s"
        " and a.attnum > 0 and not a.attisdropped and has_column_privilege(%s, c.oid, a.attnum, 'SELECT')",
        (MARTS, relation, role)).fetchone()[0]
    if columns == 0:
        return "no access", 0
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        try:
            with conn.transaction():
                col = conn.execute(
                    "select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid"
                    " join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relname = %s"
                    " and a.attnum > 0 and not a.attisdropped"
                    " and has_column_privilege(current_user, c.oid, a.attnum, 'SELECT') limit 1",
                    (MARTS, relation)).fetchone()[0]
                seen = conn.execute(sql.SQL("select count(*) from (select {} from {}) as visible").format(
                    sql.Identifier(col), sql.Identifier(MARTS, relation))).fetchone()[0]
        except psycopg.errors.InsufficientPrivilege:
            return "no access", 0
    return f"{columns} columns", seen
