"""k-anonymity of the record-level marts, counted as a reader counts: per month, the smallest group of records
sharing every quasi-identifier the mart declares in its YAML (meta.quasi_identifiers), withheld values included."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from psycopg import sql

MARTS = "marts"
LAS = "fct_ambulance_violence_dispatches"
LAS_LEVELS = 7   # generalisation levels 0..6 (models/intermediate/health/int_las_dispatches_generalised.sql)


@dataclass(frozen=True)
class Declaration:
    relation: str
    quasi_identifiers: tuple[str, ...]
    min_group_size_var: str | None   # the dbt var a month is held below; None: measured and reported only


@dataclass(frozen=True)
class GroupSize:
    month: str
    smallest_group_size: int
    min_group_size: int | None
    records_by_level: tuple[int, ...] = ()   # LAS: records at each generalisation level
    relation: str = LAS

    @property
    def ok(self) -> bool:
        return self.min_group_size is None or self.smallest_group_size >= self.min_group_size

    def text(self) -> str:
        return (f"{self.relation} {self.month}: the smallest group of records sharing every quasi-identifier"
                f" holds {self.smallest_group_size}, below the minimum {self.min_group_size}")

    def as_dict(self) -> dict:
        return asdict(self)


def declarations(project_dir: Path) -> list[Declaration]:
    """Every marts model whose YAML declares meta.quasi_identifiers."""
    found = []
    for path in sorted((project_dir / "models" / "marts").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            meta = model.get("meta") or {}
            if meta.get("quasi_identifiers"):
                found.append(Declaration(model["name"], tuple(meta["quasi_identifiers"]),
                                         meta.get("min_group_size_var")))
    return found


def _configured_minimum(project_dir: Path, var: str) -> int:
    return int(yaml.safe_load((project_dir / "dbt_project.yml").read_text())["vars"][var])


def measure(conn, declaration: Declaration, schema: str = MARTS) -> dict[str, int]:
    """month -> the smallest group of `schema.relation` rows sharing every declared quasi-identifier (SQL's
    grouping: NULLs form one group, as they do for a reader)."""
    columns = sql.SQL(", ").join(map(sql.Identifier, declaration.quasi_identifiers))
    return dict(conn.execute(sql.SQL(
        "select to_char(incident_month, 'YYYY-MM'), min(n)::int from"
        " (select incident_month, count(*) as n from {} group by {}) as groups group by 1 order by 1").format(
        sql.Identifier(schema, declaration.relation), columns)).fetchall())


def group_sizes(conn, project_dir: Path | None = None) -> list[GroupSize]:
    project_dir = project_dir or Path(__file__).resolve().parents[3]
    sizes = []
    for declaration in declarations(project_dir):
        if conn.execute("select to_regclass(%s)", (f"{MARTS}.{declaration.relation}",)).fetchone()[0] is None:
            continue
        levels, minimum = {}, None
        if declaration.min_group_size_var:
            minimum = _configured_minimum(project_dir, declaration.min_group_size_var)
        if declaration.relation == LAS and conn.execute(
                "select to_regclass('disclosure.las_dispatch_group_sizes')").fetchone()[0] is not None:
            # the minimum the build used (a --vars override included) and the records at each level
            level_columns = ", ".join(f"level_{i}_records" for i in range(LAS_LEVELS))
            for month, built_minimum, *counts in conn.execute(
                    f"select to_char(incident_month, 'YYYY-MM'), min_group_size, {level_columns}"
                    " from disclosure.las_dispatch_group_sizes").fetchall():
                levels[month] = tuple(counts)
                minimum = built_minimum
        for month, k in measure(conn, declaration).items():
            sizes.append(GroupSize(month, k, minimum, levels.get(month, ()), declaration.relation))
    return sizes
