"""What each organisation may see, computed independently of the policy compiler from the YAML as written
(access_policies/ read with yaml.safe_load, the marts catalogue's columns), and the checks that compare a
logged-in user with it. Shared by the access attack and property tests."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from marts_data import rebuild_marts
from psycopg import errors, sql
from psycopg.rows import dict_row

from safestats import credentials
from safestats.policies import service
from safestats.policies.agreements import Agreements, load_agreements
from safestats.policies.catalogue import MartRelation, load_catalogue
from safestats.policies.plan import apply_plan, make_plan
from safestats.synth import synthesise

LONDON = ZoneInfo("Europe/London")
MARTS = "marts"
SERVICE_LOGINS = {"postgres", "safestats_loader", "safestats_dbt", "safestats_audit_writer",
                  "safestats_superset_nobody", "safestats_login_keeper", "safestats_user_steward"}
OTHER_SCHEMAS = ("raw", "staging", "suppressed", "intermediate", "snapshots", "quality", "seeds", "private", "audit",
                 "disclosure", "release", "governance")



# ---------------------------------------------------------------------------------------------------------
# The meaning of the YAML, computed without the compiler
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allowed:
    """What one organisation may see of one relation."""
    boroughs: frozenset[str] | None    # the borough (or site) codes of the rows it sees; None: every row
    columns: tuple[str, ...]
    column: str | None = None          # the column holding those codes


def read_policies(root: Path) -> tuple[dict[str, dict], dict[str, tuple[str, dict]]]:
    """The YAML as written: {slug: organisation document}, {username: (slug, user document)}."""
    orgs = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((root / "organisations").glob("*.yml"))}
    users = {}
    for path in sorted((root / "users").glob("*.yml")):
        for user in (yaml.safe_load(path.read_text()) or {}).get("users") or []:
            users[user["username"]] = (path.stem, user)
    return orgs, users


def in_force(org: dict, today: date) -> bool:
    signed, checklist = org["dsa"]["signed_on"], org["onboarding"]["security_checklist_passed_on"]
    return signed is not None and signed <= today <= org["dsa"]["expires_on"] and checklist is not None


def allowed(org: dict, rel: MartRelation, today: date) -> Allowed | None:
    """None: no access at all (no column may be selected)."""
    if not in_force(org, today):
        return None
    datasets = org.get("datasets") or {}
    if rel.level == "reference":   # shared lookups: every organisation with access to any dataset
        return Allowed(None, rel.columns) if datasets else None
    spec = datasets.get(rel.dataset)
    if spec is None or (rel.level == "record" and spec["level"] != "record"):
        return None
    geography = spec["geography"] if rel.level == "record" else spec.get("aggregate_geography", spec["geography"])
    if geography == "own_sites":
        codes, column = frozenset(org.get("sites") or ()), rel.site_column
    else:
        codes = None if geography == "london" else frozenset(org["area"] if geography == "own_area" else geography)
        column = rel.geography_column
    if codes is not None and column is None:
        return None
    withheld = set(spec.get("withheld_columns") or [])
    columns = tuple(c for c in rel.columns if c not in withheld
                    and source_readable(org, rel, rel.source_of(c), codes, column))
    return Allowed(codes, columns, column) if columns else None   # every column withheld: no access at all


def source_readable(org: dict, rel: MartRelation, source: str | None, codes, column) -> bool:
    """A column counted from another dataset (a cross-dataset relation's): exact (record-level relation) only
    with a record-level agreement for that source, released (aggregate relation) with one at either level,
    whose geography holds every row the organisation sees of the relation."""
    if source is None:
        return True
    spec = (org.get("datasets") or {}).get(source)
    if spec is None or (rel.level == "record" and spec["level"] != "record"):
        return False
    geography = spec["geography"] if rel.level == "record" else spec.get("aggregate_geography", spec["geography"])
    if geography == "london":
        return True
    if codes is None or geography == "own_sites" or column == rel.site_column:
        return False
    return codes <= frozenset(org["area"] if geography == "own_area" else geography)


def may_log_in(org: dict, user: dict, catalogue: dict[str, MartRelation], today: date, now: datetime) -> bool:
    """Agreement in force, the user's authorisation (capped at the agreement's) not past the end of its day
    in London, and something to see (an organisation without any grant may not even connect)."""
    last_day = min(user["expires_on"], org["dsa"]["expires_on"])
    unexpired = now < datetime.combine(last_day + timedelta(days=1), time(0), LONDON)
    return in_force(org, today) and unexpired and any(allowed(org, r, today) for r in catalogue.values())


@dataclass
class Table:
    columns: tuple[str, ...]    # the live table's columns
    rows: list[dict]


def snapshot(su: psycopg.Connection, catalogue: dict[str, MartRelation]) -> dict[str, Table]:
    """Every row of every marts relation, read by the superuser (who is not subject to row-level security)."""
    tables = {}
    for name in catalogue:
        with su.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("select * from {}").format(sql.Identifier(MARTS, name)))
            tables[name] = Table(tuple(d.name for d in cur.description), cur.fetchall())
    return tables


def expected_rows(table: Table, rel: MartRelation, access: Allowed) -> Counter:
    return Counter(tuple(r[c] for c in access.columns) for r in table.rows
                   if access.boroughs is None or r[access.column] in access.boroughs)


def _diff(seen: Counter, expected: Counter) -> str:
    extra, missing = seen - expected, expected - seen
    return (f"{sum(extra.values())} row(s) seen that the agreement does not allow (e.g. {list(extra)[:2]}), "
            f"{sum(missing.values())} allowed row(s) not seen (e.g. {list(missing)[:2]})")


def check_relation(conn: psycopg.Connection, who: str, rel: MartRelation, table: Table,
                   access: Allowed | None) -> int:
    """Exactly the allowed rows and columns, or permission denied on everything; returns the rows seen."""
    target = sql.Identifier(MARTS, rel.name)
    if access is None:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("select count(*) from {}").format(target))
        selectable = set()
    else:
        seen = Counter(conn.execute(sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(map(sql.Identifier, access.columns)), target)).fetchall())
        expected = expected_rows(table, rel, access)
        assert seen == expected, f"{who} on {MARTS}.{rel.name}: {_diff(seen, expected)}"
        count = conn.execute(sql.SQL("select count(*) from {}").format(target)).fetchone()[0]
        assert count == sum(expected.values()), f"{who} on {MARTS}.{rel.name}: count(*) {count}"
        selectable = set(access.columns)
    for column in table.columns:
        statement = sql.SQL("select {} from {} limit 0").format(sql.Identifier(column), target)
        if column in selectable:
            conn.execute(statement)
        else:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
    return 0 if access is None else sum(expected.values())


def connect_as(endpoint, **kwargs) -> psycopg.Connection:
    return psycopg.connect(endpoint.conninfo(), autocommit=True, connect_timeout=5, **kwargs)


def check_matrix(bootstrap, su, catalogue, orgs, users, passwords, today=None) -> dict:
    """Log in as every user; those who may log in see exactly what their agreement allows, the others are
    refused. Returns {"logged_in": {user: {relation: rows}}, "refused": {user, ...}}."""
    today, now = today or date.today(), datetime.now(timezone.utc)
    tables = snapshot(su, catalogue)
    logged_in, refused = {}, set()
    for username, (slug, user) in sorted(users.items()):
        org = orgs[slug]
        endpoint = bootstrap.as_user(username, passwords[username])
        if not may_log_in(org, user, catalogue, today, now):
            with pytest.raises(psycopg.OperationalError):
                connect_as(endpoint).close()
            refused.add(username)
            continue
        with connect_as(endpoint) as conn:
            assert conn.execute("select current_user").fetchone()[0] == username
            logged_in[username] = {name: check_relation(conn, username, rel, tables[name], allowed(org, rel, today))
                                   for name, rel in sorted(catalogue.items())}
    return {"logged_in": logged_in, "refused": refused}


def managed_roles(su) -> set[str]:
    """The organisation and user roles safestats manages (marked by a comment)."""
    return {r[0] for r in su.execute("select rolname from pg_roles"
                                     " where shobj_description(oid, 'pg_authid') like 'safestats:%'").fetchall()}


def restore_access(cfg, su, found: set[str]) -> None:
    """Leave access as the module found it: the demo organisations and users it found (all of them, after
    another module applied the demo agreements; none in a fresh session) applied again, every role the module
    created dropped."""
    catalogue = load_catalogue(cfg.project_dir / "models")
    demo = load_agreements(cfg.project_dir / "access_policies", catalogue)
    orgs = {slug: o for slug, o in demo.organisations.items() if o.role in found}
    users = {name: u for name, u in demo.users.items() if name in found and u.organisation in orgs}
    kept = Agreements(orgs, users, [])
    plan = make_plan(su, kept, catalogue, date.today(), credentials.user_passwords(cfg), credentials.new_password)
    apply_plan(su, plan, catalogue, actor="tests (access restored)")
    for role in sorted(managed_roles(su) - found):
        su.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def load_synthetic_data(cfg, bootstrap, contracts, landing: Path) -> None:
    """Two synthetic months of every dataset in raw, built into marts, the demo agreements applied."""
    rebuild_marts(cfg, bootstrap, contracts, landing, lambda out: synthesise("2024-01", "2024-02", out, scale=0.05))
    service.apply(cfg)


def real_changes(plan) -> list[str]:
    """The plan's changes that would execute something (test_plan_is_empty_after_a_user_is_removed proves
    there are no others)."""
    return [c.summary for c in plan.changes if c.statements]
