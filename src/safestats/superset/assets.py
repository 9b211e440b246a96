"""The Superset asset bundle, built at sync time: one dataset per relation in `marts` (columns and their
descriptions from the dbt YAML, metrics from the semantic layer), the semantic layer's virtual datasets, the
organisation admins' audit report, the virtual datasets written as SQL under superset/assets/datasets/, and
the dashboards made for each organisation (dashboards.py) from the
short YAML under superset/assets/dashboards/ (the repo is the source of truth)."""
from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from safestats.superset.semantic_metrics import VirtualDataset

DATABASE_NAME = "SafeStats warehouse"
NAMESPACE = uuid.UUID("6f1c9a52-8a3e-4b8e-9a55-5afe57a75000")   # SafeStats' asset uuids derive from names
DATABASE_FILE = "databases/SafeStats_warehouse.yaml"
PUBLISHED_SCHEMAS = ("marts",)
AUDIT_REPORT = ("audit", "organisation_events")
TEMPORAL_TYPES = ("date", "timestamp", "timestamp with time zone", "timestamp without time zone")


def asset_uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


@dataclass
class Column:
    name: str
    type: str
    description: str | None = None

    @property
    def is_dttm(self) -> bool:
        return self.type.lower() in TEMPORAL_TYPES


@dataclass
class Relation:
    schema: str
    name: str
    columns: list[Column]
    description: str | None = None
    kind: str = "table"
    metrics: list[dict] = field(default_factory=list)
    sql: str | None = None              # a virtual dataset's query (the semantic layer's compiled metrics)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def dttm(self) -> str | None:
        return next((c.name for c in self.columns if c.is_dttm), None)


def dbt_docs(models_dir: Path) -> dict[str, dict]:
    """model name -> {"description", "columns": {name: description}} from every dbt YAML under models/."""
    docs = {}
    for path in sorted(models_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for model in doc.get("models") or []:
            docs[model["name"]] = {
                "description": " ".join((model.get("description") or "").split()) or None,
                "columns": {c["name"]: " ".join((c.get("description") or "").split()) or None
                            for c in model.get("columns") or []},
            }
    return docs


def published_relations(conn: psycopg.Connection, models_dir: Path) -> list[Relation]:
    """Every table and view in the published schemas as the database holds them now, documented from dbt."""
    docs = dbt_docs(models_dir)
    rows = conn.execute(
        "select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
        " where c.relkind in ('r', 'p', 'v', 'm') and (n.nspname = any(%s) or (n.nspname, c.relname) = (%s, %s))"
        " order by n.nspname, c.relname, a.attnum",
        (list(PUBLISHED_SCHEMAS), *AUDIT_REPORT)).fetchall()
    relations: dict[tuple[str, str], Relation] = {}
    for schema, name, column, ctype in rows:
        doc = docs.get(name, {}) if schema != "audit" else AUDIT_DOCS
        rel = relations.setdefault((schema, name), Relation(schema, name, [], doc.get("description")))
        rel.columns.append(Column(column, ctype, (doc.get("columns") or {}).get(column)))
    for rel in relations.values():
        rel.metrics = default_metrics(rel)
    return list(relations.values())


AUDIT_DOCS = {
    "description": "Audit report for organisation administrators: the events (logins, conditions accepted, "
                   "queries, chart data, exports) of their own organisation's users; PostgreSQL decides which "
                   "rows by the reader's organisation.",
    "columns": {"event_id": "Event number.", "event_time": "When it happened.", "username": "Who.",
                "organisation": "Their organisation.", "event_type": "login, login_failed, logout, "
                "conditions_accepted, sqllab_query, chart_data, export, policy_change.",
                "object": "What it was about (a chart, a query, a dataset).", "detail": "Details (JSON)."},
}


# Words spelt otherwise than capitalised in labels.
SPELLINGS = {"lsoa": "LSOA", "iso": "ISO", "gss": "GSS", "ods": "ODS", "ed": "A&E", "las": "LAS", "lfb": "LFB",
             "tfl": "TfL", "mps": "MPS", "btp": "BTP", "asb": "ASB", "istv": "ISTV", "nhs": "NHS", "id": "ID",
             "yoy": "year-on-year", "sdc": "SDC", "dsa": "DSA", "1000": "1,000"}
# Labels no rule makes.
LABELS = {"geography_name": "Area", "geography_code": "Area code", "site_name": "Hospital site",
          "iso_3166_2_code": "ISO 3166-2 code"}


def label(name: str) -> str:
    """A column as people read it: borough_name -> Borough, crime_month -> Month, lsoa_code -> LSOA code,
    borough__borough_name (the semantic layer's) -> Borough, police_violence_count -> Police violence count."""
    name = name.split("__")[-1]
    if name in LABELS:
        return LABELS[name]
    words = name.split("_")
    if len(words) > 1 and words[-1] == "name":
        words = words[:-1]
    elif len(words) == 2 and words[-1] == "month":   # crime_month, incident_month: the row's month
        words = ["month"]
    text = " ".join(SPELLINGS.get(w, w) for w in words if w)
    return text[:1].upper() + text[1:]


def default_metrics(rel: Relation) -> list[dict]:
    metrics = [{"metric_name": "count", "verbose_name": "Records", "expression": "count(*)", "metric_type": "count",
                "description": "Number of records", "d3format": ",d"}]
    for col in rel.columns:
        if col.name.endswith("_count"):
            metrics.append({"metric_name": f"sum__{col.name}", "verbose_name": label(col.name),
                            "expression": f'sum("{col.name}")', "metric_type": "sum",
                            "description": col.description, "d3format": ",d"})
    return metrics


def database_yaml(sqlalchemy_uri: str) -> dict:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": sqlalchemy_uri,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,          # and the database roles hold SELECT alone
        "allow_csv_upload": False,
        "impersonate_user": False,
        "extra": {"allows_virtual_table_explore": True, "metadata_params": {}, "engine_params": {},
                  "schemas_allowed_for_file_upload": []},
        "uuid": asset_uuid("database", DATABASE_NAME),
        "version": "1.0.0",
    }


def dataset_yaml(rel: Relation, catalog: str | None = None) -> dict:
    """`catalog`: the PostgreSQL database, as Superset 6 names the tables a SQL Lab query reads (a dataset without
    it does not grant a role that query)."""
    return {
        "table_name": rel.name,
        "catalog": catalog,
        "main_dttm_col": rel.dttm,
        "description": rel.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "schema": rel.schema,
        "sql": rel.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "uuid": asset_uuid("dataset", rel.qualified),
        "metrics": [{**m, "warning_text": None, "extra": None} for m in rel.metrics],
        "columns": [{"column_name": c.name, "verbose_name": label(c.name), "is_dttm": c.is_dttm, "is_active": True,
                     "type": c.type.upper(), "groupby": True, "filterable": True, "expression": None,
                     "description": c.description, "python_date_format": None, "extra": None}
                    for c in rel.columns],
        "version": "1.0.0",
        "database_uuid": asset_uuid("database", DATABASE_NAME),
    }


@dataclass
class Bundle:
    files: dict[str, dict]
    datasets: list[str]
    dashboards: list[str]
    skipped_dashboards: list[str]

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            meta = {"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00+00:00"}
            bundle.writestr("safestats_assets/metadata.yaml", yaml.safe_dump(meta))
            for name, content in sorted(self.files.items()):
                bundle.writestr(f"safestats_assets/{name}", yaml.safe_dump(content, sort_keys=False,
                                                                           allow_unicode=True))
        return buffer.getvalue()


def declared_datasets(assets_dir: Path) -> list[VirtualDataset]:
    """The virtual datasets written as SQL (superset/assets/datasets/*.yml: name, description, sql, metrics):
    relations that join marts for a chart, read as the viewer's role like any query."""
    found = []
    for path in sorted((assets_dir / "datasets").glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        metrics = [{"metric_type": None, "d3format": ",d", **m} for m in spec.get("metrics", [])]
        found.append(VirtualDataset(spec["name"], " ".join(spec["description"].split()), [], [], [],
                                    sql=spec["sql"].strip(), superset_metrics=metrics))
    return found


def virtual_relation(conn: psycopg.Connection, dataset: VirtualDataset, schema: str = "marts") -> Relation:
    """A virtual dataset as a Relation: its columns are what its SQL returns (asked with `limit 0`)."""
    with conn.cursor() as cur:
        cur.execute(f"select * from (\n{dataset.sql}\n) as metrics limit 0")
        described = [(d.name, d.type_code) for d in cur.description]
    columns = [Column(name, conn.execute("select format_type(%s, null)", (oid,)).fetchone()[0])
               for name, oid in described]
    return Relation(schema, dataset.name, columns, dataset.description, kind="virtual",
                    metrics=dataset.superset_metrics, sql=dataset.sql)


def datasets(conn: psycopg.Connection, project_dir: Path, sqlalchemy_uri: str, relation_metrics=None,
             virtual: list[VirtualDataset] = (), catalog: str | None = None) -> tuple[dict[str, Relation], dict]:
    """The published relations and the bundle files of the database and its datasets.
    `relation_metrics(qualified name) -> [Superset metric]`: the semantic layer's metrics each relation's
    dataset carries beside `count` and `sum__*`; `virtual`: its compiled metrics as virtual datasets."""
    relations = {r.qualified: r for r in published_relations(conn, project_dir / "models")}
    if relation_metrics:
        for rel in relations.values():
            rel.metrics += relation_metrics(rel.qualified)
    for dataset in virtual:
        try:
            rel = virtual_relation(conn, dataset)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            continue     # reads a mart not built yet (or built before its columns): it has a dataset once it is
        relations[rel.qualified] = rel
    files = {DATABASE_FILE: database_yaml(sqlalchemy_uri)}
    for rel in relations.values():
        files[f"datasets/SafeStats_warehouse/{rel.schema}.{rel.name}.yaml"] = dataset_yaml(rel, catalog)
    return relations, files
