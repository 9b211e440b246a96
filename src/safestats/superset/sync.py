"""`safestats superset sync`: Superset's users, roles and assets made to match access_policies/ and the repo."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import psycopg
import requests
from psycopg import sql

from safestats import credentials, database
from safestats.config import Settings, settings
from safestats.outputs import audience
from safestats.policies import compiler, governance
from safestats.superset import access, addon_files, assets, dashboards, semantic_metrics, server

ANALYST_ROLES = ("Gamma", "sql_lab")
AUDIT_REPORT_ROLE = "SafeStats audit report"


def org_role(slug: str) -> str:
    return f"SafeStats org {slug}"


@dataclass
class SyncResult:
    users: dict
    datasets: list[str]
    dashboards: list[str]
    skipped_dashboards: list[str]
    audit_report_readers: list[str]
    dashboard_roles: dict[str, list[str]]     # each dashboard's slug -> the Superset roles shown it


def schema_perms(schema: str, catalog: str) -> list[str]:
    """Superset 6 names a PostgreSQL schema with its catalog (the database) for SQL Lab, without for datasets."""
    return [f"[{assets.DATABASE_NAME}].[{schema}]", f"[{assets.DATABASE_NAME}].[{catalog}].[{schema}]"]


def user_plan(cfg: Settings, today: date | None = None, catalog: str = database.DATABASE_NAME) -> dict:
    """What Superset should hold: roles (an organisation's role lists the datasets its database role reads, set
    by `sync`; the audit report's, its schema) and every named user, active or not."""
    from safestats.policies import service

    today = today or date.today()
    live = service.load_live(cfg)
    agreements = live.agreements
    grants = compiler.compile_grants(agreements, live.catalogue, today)
    passwords = credentials.user_passwords(cfg)
    roles = {org_role(slug): {"schemas": [], "datasets": []} for slug in agreements.organisations}
    roles[AUDIT_REPORT_ROLE] = {"schemas": schema_perms("audit", catalog), "datasets": []}
    places = addon_files.place_names(cfg)
    users = []
    admins = {}
    for user in agreements.users.values():
        if user.role == "org_admin" and user.status == "active":
            admins.setdefault(user.organisation, []).append(f"{user.name} <{user.email}>")
    organisations = {
        slug: {"organisation_name": org.name, "dsa_reference": org.dsa_reference,
               "agreement_expires_on": org.expires_on.isoformat(), "administrators": sorted(admins.get(slug, [])),
               "datasets": addon_files.coverage(org, places),
               "output_audiences": audience.audiences(org, today, grants),
               "superset_roles": {"analyst": [*ANALYST_ROLES, org_role(slug)],
                                  "org_admin": [*ANALYST_ROLES, org_role(slug), AUDIT_REPORT_ROLE]}}
        for slug, org in agreements.organisations.items()}
    for user in sorted(agreements.users.values(), key=lambda u: u.username):
        org = agreements.organisations[user.organisation]
        active = (org.has_access(today) and user.status == "active" and user.expires_on >= today
                  and user.username in passwords)
        first, _, last = user.name.partition(" ")
        users.append({
            "username": user.username, "first_name": first or user.username, "last_name": last or "-",
            "email": user.email, "organisation": user.organisation, "role": user.role, "active": active,
            "expires_on": user.expires_on.isoformat(),   # capped at the agreement's end; Superset checks it live
            "name": user.name, "purpose": user.purpose, "organisation_name": org.name,
            "dsa_reference": org.dsa_reference, "agreement_expires_on": org.expires_on.isoformat(),
            "administrators": sorted(admins.get(user.organisation, [])),
            "datasets": addon_files.coverage(org, places),
            # an imported user logs in with the install's password (the demo prints it); a person onboarded
            # through an invitation chose their own, which sync leaves alone (None)
            "password": None if user.source == "web" else passwords.get(user.username) or credentials.new_password(),
            "roles": organisations[user.organisation]["superset_roles"][user.role],
        })
    return {"roles": roles, "users": users, "organisations": organisations,
            "provisioning_user": server.PROVISIONING_USER}


def grant_audit_reports(conn: psycopg.Connection, readers: list[str]) -> None:
    """Only active org_admins read audit.organisation_events (their own organisation's rows, by the view)."""
    current = {r[0] for r in conn.execute(
        "select grantee from information_schema.role_table_grants"
        " where table_schema = 'audit' and table_name = 'organisation_events' and privilege_type = 'SELECT'"
    ).fetchall()} - {"postgres"}
    existing = {r[0] for r in conn.execute("select rolname from pg_roles where rolname = any(%s)",
                                           (readers,)).fetchall()}
    for role in sorted(current - set(readers)):
        conn.execute(sql.SQL("revoke select on audit.organisation_events from {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("revoke usage on schema audit from {}").format(sql.Identifier(role)))
    for role in sorted(existing):
        conn.execute(sql.SQL("grant usage on schema audit to {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("grant select on audit.organisation_events to {}").format(sql.Identifier(role)))


def warehouse_uri(ep: database.Endpoint) -> str:
    """Superset's stored connection: as the nobody role (the mutator swaps in the user's own login)."""
    host = f"?host={quote(ep.host, safe='/')}&port={ep.port}" if ep.host.startswith("/") else ""
    where = "" if host else f"{ep.host}:{ep.port}"
    return f"postgresql+psycopg2://{credentials.SUPERSET_NOBODY_ROLE}:XXXXXXXXXX@{where}/{ep.dbname}{host}"


class Client:
    """The provisioning account's REST session (JWT + CSRF token), the robust way into Superset 6.1."""

    def __init__(self, base: str, username: str, password: str):
        self.base, self.http = base, requests.Session()
        resp = self.http.post(f"{base}/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db", "refresh": False}, timeout=30)
        resp.raise_for_status()
        self.http.headers["Authorization"] = "Bearer " + resp.json()["access_token"]
        token = self.http.get(f"{base}/api/v1/security/csrf_token/", timeout=30)
        token.raise_for_status()
        self.http.headers.update({"X-CSRFToken": token.json()["result"], "Referer": base})

    def import_assets(self, bundle: bytes, passwords: dict[str, str]) -> None:
        resp = self.http.post(f"{self.base}/api/v1/assets/import/",
                              files={"bundle": ("safestats_assets.zip", bundle, "application/zip")},
                              data={"passwords": json.dumps(passwords)}, timeout=300)
        if resp.status_code != 200:
            raise server.SupersetError(f"asset import refused ({resp.status_code}): {resp.text[:500]}")


def provision_users(cfg: Settings, plan: dict) -> dict:
    p = server.paths(cfg)
    out = subprocess.run([str(p.venv_bin / "python"), str(p.config.parent / "provision_users.py")],
                         input=json.dumps(plan), env=server.environment(cfg), capture_output=True, text=True)
    if out.returncode != 0:
        raise server.SupersetError("user provisioning failed: " + " | ".join(
            (out.stderr or out.stdout).strip().splitlines()[-5:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


# Which semantic-layer metric names a disclosure-controlled aggregate relation answers, and how.
AGGREGATE_METRICS_FILE = ("superset", "assets", "aggregate_metrics.yml")
# The virtual datasets the warehouse materialises, one model each under its name (macros/borough_month_metrics.sql).
MATERIALISED_METRICS = ("models", "marts", "metrics")


def materialised_metrics(project_dir: Path) -> frozenset[str]:
    """The names of the semantic layer's virtual datasets the warehouse builds as tables."""
    return frozenset(p.stem for p in project_dir.joinpath(*MATERIALISED_METRICS).glob("*.sql"))


def semantic_assets(cfg: Settings):
    """The semantic layer's metrics per relation (a function of the relation's qualified name) and its
    compiled metrics as virtual datasets, from dbt's semantic manifest and MetricFlow."""
    from safestats import metricflow

    layer = semantic_metrics.SemanticLayer.load(metricflow.ensure_manifest(cfg))
    mapping = semantic_metrics.load_aggregate_mapping(cfg.project_dir.joinpath(*AGGREGATE_METRICS_FILE))

    def relation_metrics(relation: str) -> list[dict]:
        return (semantic_metrics.relation_metrics(layer, relation)
                + semantic_metrics.aggregate_metrics(layer, relation, mapping))

    return relation_metrics, semantic_metrics.compile_datasets(layer, metricflow.Session(cfg),
                                                                materialised_metrics(cfg.project_dir))


def sync(cfg: Settings | None = None, today: date | None = None) -> SyncResult:
    cfg = cfg or settings()
    if not server.running_pid(cfg):
        raise server.SupersetError("Superset is not running: run `safestats superset start` first")
    ep = database.endpoint(cfg)
    plan = user_plan(cfg, today, catalog=ep.dbname)
    addon_files.publish_conditions(cfg)
    addon_files.write_organisations_file(cfg, plan)
    readers = [u["username"] for u in plan["users"] if u["role"] == "org_admin" and u["active"]]
    relation_metrics, virtual = semantic_assets(cfg)
    virtual += assets.declared_datasets(cfg.project_dir / "superset" / "assets")
    from safestats.policies import service

    organisations = service.load(cfg).agreements.organisations.values()
    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        # the platform's own account logs in through the browser with a second factor too
        governance.enrol_second_factors(conn, [server.PROVISIONING_USER])
        grant_audit_reports(conn, readers)
        relations, files = assets.datasets(conn, cfg.project_dir, warehouse_uri(ep), relation_metrics, virtual,
                                          catalog=ep.dbname)
        viewers = access.viewers(conn, organisations, relations, org_role)
    addon_files.write_dictionary(cfg, relations, viewers)
    made = dashboards.make(dashboards.load(cfg.project_dir / "superset" / "assets"), relations, viewers)
    for viewer in viewers:
        plan["roles"][viewer.role]["datasets"] = sorted(viewer.readable)
    plan["dashboards"] = made.roles
    plan["charts"] = sorted(f["uuid"] for name, f in made.files.items() if name.startswith("charts/"))
    bundle = assets.Bundle({**files, **made.files}, sorted(relations), made.titles, made.unfilled)
    client = Client(server.url(), server.PROVISIONING_USER, server.admin_password(cfg))
    client.import_assets(bundle.zip_bytes(),
                         {assets.DATABASE_FILE: credentials.load(cfg)[credentials.SUPERSET_NOBODY_ROLE]})
    summary = provision_users(cfg, plan)
    return SyncResult(summary, bundle.datasets, bundle.dashboards, bundle.skipped_dashboards, readers,
                      made.roles)
