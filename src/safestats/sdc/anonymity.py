"""k-anonymity of the record-level marts, counted as a reader counts: per month, the smallest group of records
sharing every quasi-identifier the mart declares in its YAML (meta.quasi_identifiers), withheld values included;
with the records at each generalisation level and those withheld (a borough and month below k)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from psycopg import sql

from safestats.sdc.relations import where_in_months

MARTS = "marts"
INTERMEDIATE = "intermediate"
LAS = "fct_ambulance_violence_dispatches"
MAX_LEVELS = 8   # the most generalisation levels a mart has (MPS people: 0..7; LAS: 0..6)


@dataclass(frozen=True)
class Declaration:
    relation: str
    quasi_identifiers: tuple[str, ...]
    min_group_size_var: str | None   # the dbt var a month is held below; None: measured and reported only
    generalised_by: str | None = None   # the intermediate model that generalises it (is_withheld per record)


@dataclass(frozen=True)
class GroupSize:
    month: str
    smallest_group_size: int
    min_group_size: int | None
    records_by_level: tuple[int, ...] = ()   # records published at each generalisation level
    relation: str = LAS
    records_withheld: int = 0   # records of a borough and month below k, not published

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
                                         meta.get("min_group_size_var"), meta.get("generalised_by")))
    return found


def _configured_minimum(project_dir: Path, var: str) -> int:
    return int(yaml.safe_load((project_dir / "dbt_project.yml").read_text())["vars"][var])


def measure(conn, declaration: Declaration, schema: str = MARTS, months: list[str] | None = None) -> dict[str, int]:
    """month -> the smallest group of `schema.relation` rows sharing every declared quasi-identifier (SQL's
    grouping: NULLs form one group, as they do for a reader); of `months` only, when given."""
    columns = sql.SQL(", ").join(map(sql.Identifier, declaration.quasi_identifiers))
    where, params = where_in_months(months)
    return dict(conn.execute(sql.SQL(
        "select to_char(incident_month, 'YYYY-MM'), min(n)::int from"
        " (select incident_month, count(*) as n from {}{} group by {}) as groups group by 1 order by 1").format(
        sql.Identifier(schema, declaration.relation), where, columns), params).fetchall())


def records_by_level(conn, declaration: Declaration, schema: str = MARTS,
                     months: list[str] | None = None) -> dict[str, tuple[int, ...]]:
    """month -> the records published at each generalisation level (0 first)."""
    counts: dict[str, dict[int, int]] = {}
    where, params = where_in_months(months)
    for month, level, n in conn.execute(sql.SQL(
            "select to_char(incident_month, 'YYYY-MM'), generalisation_level, count(*)::int from {}{}"
            " group by 1, 2").format(sql.Identifier(schema, declaration.relation), where), params).fetchall():
        counts.setdefault(month, {})[level] = n
    return {month: tuple(by_level.get(i, 0) for i in range(max(by_level) + 1)) for month, by_level in counts.items()}


def records_withheld(conn, declaration: Declaration, months: list[str] | None = None) -> dict[str, int]:
    """month -> the records of boroughs and months with fewer than k records in all, not published."""
    if not declaration.generalised_by or conn.execute(
            "select to_regclass(%s)", (f"{INTERMEDIATE}.{declaration.generalised_by}",)).fetchone()[0] is None:
        return {}
    where, params = where_in_months(months)
    return dict(conn.execute(sql.SQL(
        "select to_char(incident_month, 'YYYY-MM'), count(*) filter (where is_withheld)::int from {}{}"
        " group by 1").format(sql.Identifier(INTERMEDIATE, declaration.generalised_by), where), params).fetchall())


def _has_column(conn, relation: str, column: str, schema: str = MARTS) -> bool:
    return conn.execute("select exists (select from information_schema.columns where table_schema = %s"
                        " and table_name = %s and column_name = %s)", (schema, relation, column)).fetchone()[0]


def group_sizes(conn, project_dir: Path | None = None, months: list[str] | None = None) -> list[GroupSize]:
    """The smallest group of each declared relation, per month (of `months` only, when given)."""
    project_dir = project_dir or Path(__file__).resolve().parents[3]
    sizes = []
    for declaration in declarations(project_dir):
        if conn.execute("select to_regclass(%s)", (f"{MARTS}.{declaration.relation}",)).fetchone()[0] is None:
            continue
        minimum = None
        if declaration.min_group_size_var:
            minimum = _configured_minimum(project_dir, declaration.min_group_size_var)
        if declaration.relation == LAS and conn.execute(
                "select to_regclass('disclosure.las_dispatch_group_sizes')").fetchone()[0] is not None:
            # the minimum the build used (a --vars override included)
            for (built_minimum,) in conn.execute(
                    "select distinct min_group_size from disclosure.las_dispatch_group_sizes").fetchall():
                minimum = built_minimum
        levels = (records_by_level(conn, declaration, months=months)
                  if _has_column(conn, declaration.relation, "generalisation_level") else {})
        withheld = records_withheld(conn, declaration, months)
        for month, k in measure(conn, declaration, months=months).items():
            sizes.append(GroupSize(month, k, minimum, levels.get(month, ()), declaration.relation,
                                   withheld.get(month, 0)))
    return sizes
