"""Reading aggregate relations (candidates in `disclosure`, published in `release`/`marts`) as attacker cells."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from psycopg import sql

from safestats.sdc.attacker import Cell, CellKey, Rule

SHAPE = ("incident_month", "geography_level", "geography_code", "borough_code", "category_code",
         "parent_category_code", "suppression", "is_total")


@dataclass(frozen=True)
class Relation:
    name: str
    count_columns: tuple[str, ...]
    shaped: bool            # has the standard agg_ columns (SHAPE); else only its figures are checked
    rule: Rule


def rules(project_dir: Path) -> tuple[dict[str, Rule], Rule]:
    """(relation name -> its dataset's rule, the default rule), from the candidates' meta.sdc.dataset and
    the dbt vars; a relation no candidate declares (a planted or hand-made one) gets the default."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    defaults = project["vars"]["sdc_defaults"]
    overrides = project["vars"].get("sdc_datasets") or {}

    def rule(dataset: str | None) -> Rule:
        own = overrides.get(dataset, {}) if dataset else {}
        return Rule(int(own.get("threshold", defaults["threshold"])),
                    int(own.get("rounding_base", defaults["rounding_base"])))

    found = {}
    for path in sorted((project_dir / "models" / "disclosure").glob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            dataset = ((model.get("meta") or {}).get("sdc") or {}).get("dataset")
            found[model["name"].removeprefix("candidate_")] = rule(dataset)
    return found, rule(None)


def relations(conn, schema: str, project_dir: Path) -> list[Relation]:
    """Every agg_*_monthly table of the schema, with its count columns (names ending in _count)."""
    known, fallback = rules(project_dir)
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "select c.table_name, c.column_name from information_schema.columns c"
            " where c.table_schema = %s and c.table_name like 'agg\\_%%\\_monthly' order by c.ordinal_position",
            (schema,)).fetchall():
        columns.setdefault(table, []).append(column)
    return [Relation(name, tuple(c for c in cols if c.endswith("_count")), all(s in cols for s in SHAPE),
                     known.get(name, fallback))
            for name, cols in sorted(columns.items())]


def in_months(months: list[str]) -> tuple[sql.Composable, list]:
    """The condition keeping the rows of `months` ('YYYY-MM'), and its parameters: on the month column itself, so
    that its index serves it (a condition on to_char of it reads every row)."""
    return sql.SQL("incident_month = any(%s::date[])"), [[f"{m}-01" for m in months]]


def where_in_months(months: list[str] | None) -> tuple[sql.Composable, list]:
    """A where clause keeping `months` (every month when None), and its parameters."""
    if months is None:
        return sql.SQL(""), []
    condition, params = in_months(months)
    return sql.SQL(" where ") + condition, params


def read_cells(conn, schema: str, relation: Relation, months: list[str] | None = None) -> list[Cell]:
    """The relation's figures as cells, one per row and count column (shaped relations only)."""
    if not relation.shaped:
        return []
    where, params = where_in_months(months)
    cells = []
    for column in relation.count_columns:
        rows = conn.execute(sql.SQL(
            "select to_char(incident_month, 'YYYY-MM'), geography_level, geography_code, borough_code,"
            " category_code, parent_category_code, suppression, is_total, {} from {}{}").format(
            sql.Identifier(column), sql.Identifier(schema, relation.name), where), params).fetchall()
        for month, level, code, borough, category, parent, suppression, is_total, value in rows:
            key = CellKey(relation.name, column, month, level, code, borough, category)
            cells.append(Cell(key, None if value is None else int(value), suppression, bool(is_total), parent,
                              relation.rule))
    return cells


def rule_breaches(conn, schema: str, relation: Relation, months: list[str]) -> list[tuple[str, str]]:
    """(month, what) for each figure of the relation's `months` that its rule could not have made."""
    found = []
    condition, params = in_months(months)
    for column in relation.count_columns:
        rows = conn.execute(sql.SQL(
            "select to_char(incident_month, 'YYYY-MM'), {c}, count(*) from {t}"
            " where ({c} between 1 and %s or {c} %% %s <> 0) and {condition}"
            " group by 1, 2 order by 1, 2").format(c=sql.Identifier(column), t=sql.Identifier(schema, relation.name),
                                                   condition=condition),
            [relation.rule.threshold, relation.rule.rounding_base, *params]).fetchall()
        found += [(month, f"{relation.name}.{column}: {count} row(s) release {value}, which the rule cannot make")
                  for month, value, count in rows]
    return found


def months_of(conn, schema: str, relation: Relation) -> list[str]:
    return [r[0] for r in conn.execute(sql.SQL(
        "select distinct to_char(incident_month, 'YYYY-MM') from {} order by 1").format(
        sql.Identifier(schema, relation.name))).fetchall()]
