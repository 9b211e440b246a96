"""The files Superset's add-on (superset/safestats_superset/) reads at run time, written by `safestats superset
sync`: each organisation's agreement in words (organisations.json: name, reference, coverage, administrators),
the conditions of use in force (conditions.json) and each organisation's data dictionary (dictionary.json: the
marts relations and columns its database role reads, with their dbt descriptions)."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import yaml

from safestats.config import Settings
from safestats.superset import server

PLACE_SEEDS = (("seeds", "london_boroughs.csv", "borough_code", "borough_name"),
               ("seeds", "health", "hospital_sites.csv", "site_code", "site_name"))


def place_names(cfg: Settings) -> dict[str, str]:
    """Borough (GSS) and hospital site (ODS) codes -> names, from the seeds."""
    names = {}
    for *parts, code, name in PLACE_SEEDS:
        with cfg.project_dir.joinpath(*parts).open(newline="", encoding="utf-8") as fh:
            names.update({row[code]: row[name] for row in csv.DictReader(fh)})
    return names


def coverage(org, places: dict[str, str]) -> list[list[str]]:
    """[dataset, level, rows] for each dataset an organisation's agreement gives it, in words."""
    def rows(scope) -> str:
        if scope is None:
            return "all of London"
        return ", ".join(places.get(code, code) for code in scope.codes)
    return [[access.dataset, access.level, rows(access.scope)]
            for access in sorted(org.datasets.values(), key=lambda a: a.dataset)]


CONDITIONS_FILE = ("access_policies", "conditions_of_use.yml")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def write_organisations_file(cfg: Settings, plan: dict) -> None:
    """organisations.json: each organisation's agreement in words (name, reference, end, administrators,
    coverage) and the Superset roles of its analysts and administrators. Who its users are, Superset reads
    from the governance tables, where administrators change them."""
    _write_json(server.paths(cfg).dir / "organisations.json", plan["organisations"])


def write_dictionary(cfg: Settings, relations, viewers) -> None:
    """dictionary.json: organisation slug -> the tables it may query in SQL Lab, each with the columns its
    database role reads (name, label, type, description), as PostgreSQL answered at this sync."""
    from safestats.superset.assets import label

    dictionary = {}
    for viewer in viewers:
        tables = []
        for qualified in sorted(viewer.readable):
            rel = relations.get(qualified)
            if rel is None or rel.kind == "virtual":
                continue
            tables.append({"relation": qualified, "description": rel.description or "",
                           "columns": [[c.name, label(c.name), c.type, c.description or ""] for c in rel.columns
                                       if c.name in viewer.readable[qualified]]})
        dictionary[viewer.slug] = tables
    _write_json(server.paths(cfg).dir / "dictionary.json", dictionary)


def publish_conditions(cfg: Settings) -> dict:
    """access_policies/conditions_of_use.yml, checked, as the conditions page reads it (with the text's digest,
    which the audit records beside the version each user accepts)."""
    source = cfg.project_dir.joinpath(*CONDITIONS_FILE)
    doc = yaml.safe_load(source.read_text()) or {}
    clauses = doc.get("clauses")
    if not isinstance(doc.get("version"), int) or doc["version"] < 1:
        raise server.SupersetError(f"{source}: `version` must be a whole number from 1")
    if not clauses or not all(isinstance(c, str) and c.strip() for c in clauses):
        raise server.SupersetError(f"{source}: `clauses` must be a list of sentences")
    text = "\n".join(" ".join(c.split()) for c in clauses)
    published = {"version": doc["version"], "effective_from": str(doc.get("effective_from") or ""),
                 "report_breaches_to": doc.get("report_breaches_to") or "", "clauses": text.split("\n"),
                 "sha256": hashlib.sha256(text.encode()).hexdigest()}
    _write_json(server.paths(cfg).dir / "conditions.json", published)
    return published
