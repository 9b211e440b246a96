"""The project's naming conventions, checked the way dbt-project-evaluator checks a project: every model's
name says its layer; each dataset goes by one name (its contract's `<source>_<table>`) in the source-conformed
layers, raw to quality, and by one business name (declared once, in declarations/aggregates.yml) in the
business-conformed layers: fact mart, release candidate, published aggregate and semantic model, as dbt's own
guide names marts by the business entity rather than by the system that sent it. A name that departs from the
convention is listed below with the reason."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from safestats.config import PROJECT_DIR
from safestats.contracts import load_contracts

MODELS = PROJECT_DIR / "models"
LAYER_PATTERNS = {
    "staging": r"stg_{folder}__[a-z0-9_]+",
    "suppressed": r"[a-z0-9_]+",
    "intermediate": r"int_[a-z0-9_]+",
    "marts": r"(fct|dim)_[a-z0-9_]+",
    "marts/aggregates": r"agg_[a-z0-9_]+_monthly",
    # the semantic layer's virtual dataset it materialises, by name (docs/semantic-layer.md)
    "marts/metrics": r"metrics_[a-z0-9_]+_by_borough_month",
    "quality": r"[a-z0-9_]+_exclusions",
    "disclosure": r"candidate_agg_[a-z0-9_]+_monthly",
}
# Models whose names depart from the convention, and why.
EXCEPTIONS = {
    "stg_istv__submissions": "the ISTV submission log, read from the same extract as the attendances (no contract "
                             "of its own)",
    "istv_site_submissions": "the privacy boundary of stg_istv__submissions (a log of files, not a dataset)",
    "las_dispatch_group_sizes": "the LAS generalisation's group sizes, read by the disclosure check (not a "
                                "release candidate)",
}
NO_EXCLUSIONS = {"ons_lsoa_ward_lookup": "reference data: every row is kept",
                 "ons_lsoa_centroids": "reference data: every row is kept"}
# Fact marts that are not a dataset's business name, and why.
OTHER_FACTS = {
    "fct_ed_site_submissions": "the A&E submission log (which sites sent which months), not a dataset",
    "fct_ed_site_data_quality": "the A&E data quality per site and month (completeness, codes, timing), not a "
                                "dataset",
    "fct_borough_violence_core": "derived from the other marts' released cells (declared under `derived`)",
}
# Datasets without a semantic model of their own, and why.
NO_SEMANTIC_MODEL = {name: "no semantic model yet: no dashboard or metric reads it; SQL Lab and the published "
                            "aggregate serve it" for name in ("crime_outcomes", "crime_victims",
                                                              "crime_perpetrators", "bus_safety_incidents")}
NO_DATASET_PAGE = {}


def models() -> dict[str, Path]:
    return {p.stem: p for p in MODELS.rglob("*.sql")}


def layer_of(path: Path) -> tuple[str, str]:
    parts = path.relative_to(MODELS).parts
    if parts[0] == "marts" and parts[1] in ("aggregates", "metrics"):
        return f"marts/{parts[1]}", parts[1]
    return parts[0], parts[1] if len(parts) > 2 else ""


def test_every_model_is_named_for_its_layer():
    wrong = []
    for name, path in sorted(models().items()):
        layer, folder = layer_of(path)
        pattern = LAYER_PATTERNS[layer].format(folder=re.escape(folder))
        if not re.fullmatch(pattern, name) and name not in EXCEPTIONS:
            wrong.append(f"{path.relative_to(PROJECT_DIR)}: expected {pattern}")
    assert not wrong, "models named against the convention:\n" + "\n".join(wrong)


def test_each_dataset_goes_by_its_contract_name_from_staging_to_quality():
    have = models()
    missing = []
    for contract in load_contracts(MODELS):
        dataset = contract.dataset
        wanted = [f"stg_{contract.source}__{contract.table}", dataset]
        if dataset not in NO_EXCLUSIONS:
            wanted.append(f"{dataset}_exclusions")
        missing += [f"{dataset}: no model {name}" for name in wanted if name not in have]
        if dataset not in NO_DATASET_PAGE and not (PROJECT_DIR / "docs" / "datasets" / f"{dataset}.md").exists():
            missing.append(f"{dataset}: no docs/datasets/{dataset}.md")
    assert not missing, "datasets under other names:\n" + "\n".join(missing)


def test_every_release_candidate_has_its_published_aggregate():
    have = models()
    orphans = [name for name in have if name.startswith("candidate_") and name.removeprefix("candidate_") not in have]
    assert not orphans, f"release candidates without a published aggregate: {orphans}"


def test_the_listed_exceptions_are_still_needed():
    have = models()
    gone = [name for name in EXCEPTIONS if name not in have]
    assert not gone, f"exceptions for models that no longer exist (remove them): {gone}"


def business_names() -> dict[str, str]:
    """dataset -> its business name, as declared once for the aggregates."""
    declared = yaml.safe_load((PROJECT_DIR / "declarations" / "aggregates.yml").read_text())
    return {a["dataset"]: a["name"] for a in declared["aggregates"]}


def test_each_dataset_goes_by_one_business_name_from_mart_to_semantic_model():
    have = models()
    names = business_names()
    datasets = {c.dataset for c in load_contracts(MODELS)}
    wrong = [f"{d}: declared for an aggregate but no contract has it" for d in names if d not in datasets]
    taken = [n for n in names.values() if list(names.values()).count(n) > 1]
    wrong += [f"business name {n} declared for more than one dataset" for n in sorted(set(taken))]
    for dataset, name in sorted(names.items()):
        wrong += [f"{dataset} ({name}): no model {m}" for m in (f"fct_{name}", f"agg_{name}_monthly",
                                                                 f"candidate_agg_{name}_monthly") if m not in have]
    wrong += [f"{m}: a fact mart that is no dataset's business name" for m in sorted(have)
              if m.startswith("fct_") and m.removeprefix("fct_") not in names.values() and m not in OTHER_FACTS
              and not is_monthly_summary(m, have, names)]
    semantic = {}
    for path in sorted((PROJECT_DIR / "semantic").glob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("semantic_models") or []:
            semantic[model["name"]] = (path.stem, model["model"])
    for name in sorted(set(names.values()) - set(NO_SEMANTIC_MODEL)):
        # over the fact mart, or over its monthly summary when it has one
        of = f"fct_{name}_monthly" if f"fct_{name}_monthly" in have else f"fct_{name}"
        if semantic.get(name) != (name, f"ref('{of}')"):
            wrong.append(f"{name}: expected semantic/{name}.yml with the semantic model {name} of {of}, "
                         f"found {semantic.get(name)}")
    assert not wrong, "business names against the convention:\n" + "\n".join(wrong)


def is_monthly_summary(model: str, have: dict[str, Path], names: dict[str, str]) -> bool:
    """fct_<business name>[_<finer place>]_monthly: a fact mart counted by month (and by LSOA, say) beside the
    fact mart itself, in its folder."""
    facts = [f"fct_{name}" for name in names.values() if model.startswith(f"fct_{name}_")]
    return (model.endswith("_monthly") and any(fact in have and have[fact].parent == have[model].parent
                                              for fact in facts))


def test_the_listed_business_name_exceptions_are_still_needed():
    have, names = models(), set(business_names().values())
    assert [m for m in OTHER_FACTS if m not in have] == []
    semantic = {p.stem for p in (PROJECT_DIR / "semantic").glob("*.yml")}
    assert [n for n in NO_SEMANTIC_MODEL if n not in names or n in semantic] == []
