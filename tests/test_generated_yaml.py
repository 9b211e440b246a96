"""The generated dbt YAML is what its declarations make (src/safestats/generate.py). No database, no server."""
from __future__ import annotations

import difflib
import re

import pytest
import yaml

from safestats import generate
from safestats.config import PROJECT_DIR


@pytest.mark.parametrize("rel", sorted(generate.generated(PROJECT_DIR)))
def test_generated_file_is_up_to_date(rel):
    expected = generate.generated(PROJECT_DIR)[rel]
    path = PROJECT_DIR / rel
    assert path.is_file(), f"{rel} is missing: run `{generate.COMMAND}` and commit it"
    committed = path.read_text()
    if committed != expected:
        diff = list(difflib.unified_diff(committed.splitlines(), expected.splitlines(), f"{rel} (committed)",
                                         f"{rel} (generated)", lineterm="", n=1))
        pytest.fail(f"{rel} is stale (edited by hand, or its declaration changed without regenerating): run "
                    f"`{generate.COMMAND}` (or `python -m safestats.generate`) and commit the result.\n"
                    + "\n".join(diff[:30]) + ("\n..." if len(diff) > 30 else ""), pytrace=False)


@pytest.mark.parametrize("rel", sorted(generate.generated(PROJECT_DIR)))
def test_generated_file_says_so_and_round_trips(rel):
    text = generate.generated(PROJECT_DIR)[rel]
    assert text.startswith("# Generated from ") and generate.COMMAND in text.splitlines()[0]
    assert max(map(len, text.splitlines())) <= generate.WIDTH
    assert yaml.safe_load(text)  # valid YAML, not empty


def _sql(path) -> str:
    return (PROJECT_DIR / path).read_text()


@pytest.mark.parametrize("agg", generate.load_declaration(PROJECT_DIR)["aggregates"], ids=lambda a: a["name"])
def test_declaration_agrees_with_the_models_sql(agg):
    """What the declaration says of an aggregate is what its candidate's SQL does: the dataset whose rule it
    applies, the count column, the relation counted and whether there are ward cells."""
    name = agg["name"]
    candidate = _sql(f"models/disclosure/candidate_agg_{name}_monthly.sql")
    call = re.search(r"sdc_monthly_aggregate\(\s*'(\w+)',\s*'(\w+)',\s*'(\w+)'", candidate)
    assert call, f"candidate_agg_{name}_monthly.sql does not call sdc_monthly_aggregate"
    relation, dataset, count = call.groups()
    assert (dataset, count) == (agg["dataset"], agg["count"])
    assert agg["built_from"].split(" ")[0] == relation
    assert ("ward_from=" in candidate) == agg["wards"]
    assert f"config(alias='agg_{name}_monthly')" in candidate
    published = _sql(f"models/marts/aggregates/agg_{name}_monthly.sql")
    assert f"published_aggregate('candidate_agg_{name}_monthly')" in published


def test_every_aggregate_is_declared():
    declared = {a["name"] for a in generate.load_declaration(PROJECT_DIR)["aggregates"]}
    declared |= {r["name"] for r in generate.load_declaration(PROJECT_DIR).get("derived", [])}
    on_disk = {p.stem.removeprefix("agg_").removesuffix("_monthly")
               for p in (PROJECT_DIR / "models" / "marts" / "aggregates").glob("agg_*_monthly.sql")}
    assert on_disk == declared


def test_derived_metrics_follow_their_count():
    found = generate.derived_metrics(PROJECT_DIR)
    assert found, "no count metric declares config.meta.derived"
    for _source, count, derived in found:
        for metric in derived:
            assert metric["name"].startswith(count["name"].removesuffix("_count"))
            assert metric["label"].startswith(count["label"])


def test_a_stale_file_is_found(tmp_path):
    """stale() reports a generated file edited by hand, and write() restores it."""
    for rel, text in generate.generated(PROJECT_DIR).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for rel in (generate.DECLARATION, *(f"semantic/{p.name}" for p in (PROJECT_DIR / "semantic").glob("*.yml"))):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((PROJECT_DIR / rel).read_text())
    assert generate.stale(tmp_path) == []
    edited = tmp_path / generate.AGGREGATES
    edited.write_text(edited.read_text().replace("Name of the area.", "Name of the place.", 1))
    assert generate.stale(tmp_path) == [generate.AGGREGATES]
    assert generate.write(tmp_path) == [generate.AGGREGATES]
    assert generate.stale(tmp_path) == []
