"""The relations analysts may be given: every model in models/marts with `meta.access` in its YAML."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

LEVELS = ("record", "aggregate", "reference")


@dataclass(frozen=True)
class MartRelation:
    name: str
    level: str                       # record (fct_), aggregate (agg_), reference (dim_: shared lookups)
    dataset: str | None              # the dataset an agreement names; None for reference relations
    geography_column: str | None     # the borough code column row access keys on
    columns: tuple[str, ...]
    site_column: str | None = None   # the hospital site code column, for agreements scoped to own sites
    partition_columns: tuple[str, ...] = ()   # how the relation is laid out (macros/materialization_partitioned_table)
    # a cross-dataset relation: (column, source dataset) for each column counted from another dataset, which
    # only organisations with that dataset at this relation's level (and geography) may read
    column_sources: tuple[tuple[str, str], ...] = ()

    def source_of(self, column: str) -> str | None:
        return dict(self.column_sources).get(column)


def load_catalogue(models_dir: Path) -> dict[str, MartRelation]:
    relations = {}
    for path in sorted((models_dir / "marts").rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for model in doc.get("models", []):
            access = (model.get("meta") or {}).get("access")
            if not access:
                continue
            level = access.get("level")
            if level not in LEVELS:
                raise ValueError(f"{path}: model {model['name']}: meta.access.level must be one of {LEVELS}")
            relations[model["name"]] = MartRelation(
                name=model["name"],
                level=level,
                dataset=access.get("dataset"),
                geography_column=access.get("geography_column"),
                columns=tuple(c["name"] for c in model.get("columns", [])),
                site_column=access.get("site_column"),
                partition_columns=tuple(access.get("partition_columns") or ()),
                column_sources=_column_sources(path, model["name"], access.get("sources") or {},
                                               [c["name"] for c in model.get("columns", [])]),
            )
    return relations


def _column_sources(path: Path, model: str, sources: dict, columns: list[str]) -> tuple[tuple[str, str], ...]:
    """meta.access.sources: {source dataset: [its columns]} -> ((column, dataset), ...)."""
    pairs = []
    for dataset, named in sorted(sources.items()):
        for column in named:
            if column not in columns:
                raise ValueError(f"{path}: model {model}: meta.access.sources.{dataset} names {column!r},"
                                 " which is not one of its columns")
            pairs.append((column, dataset))
    return tuple(pairs)


def datasets(catalogue: dict[str, MartRelation]) -> dict[str, set[str]]:
    """dataset -> the columns of its relations (what an agreement may withhold)."""
    found: dict[str, set[str]] = {}
    for rel in catalogue.values():
        if rel.dataset:
            found.setdefault(rel.dataset, set()).update(rel.columns)
        for _, source in rel.column_sources:
            found.setdefault(source, set())
    return found
