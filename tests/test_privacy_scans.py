"""The privacy leak scans (data-tests/assert_no_*_past_the_privacy_boundary.sql): what they look for comes from
`meta.sensitivity` on the extract contracts, they run after every model past the boundary, and a weakened
model that carries a raw identifier through is reported."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import psycopg
import yaml

from safestats.config import PROJECT_DIR

MODELS = PROJECT_DIR / "models"
SCANS = ("assert_no_sensitive_value_past_the_privacy_boundary", "assert_no_point_location_past_the_privacy_boundary")
SENSITIVITIES = {"identifier", "free_text", "personal", "point_location", "pseudonym"}


def _yaml_files(folder: Path):
    for path in sorted(folder.rglob("*.yml")):
        yield path, yaml.safe_load(path.read_text()) or {}


def _column_sensitivities() -> dict[str, dict[str, str]]:
    """'source:<source>.<table>' or 'model:<name>' -> {column: meta.sensitivity} as declared in the YAML."""
    found: dict[str, dict[str, str]] = {}
    for folder in (MODELS, PROJECT_DIR / "snapshots"):
        for _, doc in _yaml_files(folder):
            for source in doc.get("sources") or []:
                for table in source.get("tables") or []:
                    found[f"source:{source['name']}.{table['name']}"] = {
                        c["name"]: (c.get("meta") or {}).get("sensitivity") for c in table.get("columns") or []}
            for kind in ("models", "snapshots"):
                for model in doc.get(kind) or []:
                    found[f"model:{model['name']}"] = {
                        c["name"]: (c.get("meta") or {}).get("sensitivity") for c in model.get("columns") or []}
    return {node: {c: s for c, s in cols.items() if s} for node, cols in found.items()}


def _past_the_boundary() -> dict[str, Path]:
    """Every model and snapshot past the privacy boundary (all but models/staging), by name."""
    found = {p.stem: p for p in MODELS.rglob("*.sql") if not p.relative_to(MODELS).parts[0] == "staging"}
    for path, doc in _yaml_files(PROJECT_DIR / "snapshots"):
        for snapshot in doc.get("snapshots") or []:
            found[snapshot["name"]] = path
    return found


def _reads(path: Path, names: set[str]) -> set[str]:
    """The models a model's SQL names: ref('x'), or 'x' handed to a macro that refs it."""
    return {n for n in re.findall(r"['\"](\w+)['\"]", path.read_text()) if n in names}


def _scan_depends_on() -> list[str]:
    text = (PROJECT_DIR / "macros" / "privacy_scan_depends_on.sql").read_text()
    listed = re.search(r"set last_models = \[(.*?)\]", text, re.S)
    assert listed, "macros/privacy_scan_depends_on.sql: no `last_models` list"
    return re.findall(r"'(\w+)'", listed.group(1))


def test_the_scans_run_after_every_model_past_the_privacy_boundary():
    """dbt runs a data test after the models it refs. The graph is empty when dbt parses, so the scans' refs are
    listed in one macro; here every model past the boundary must be listed, or be read (through any chain of
    models) by one listed. The published aggregates are rebuilt by the release step alone and stay out."""
    models = _past_the_boundary()
    listed = _scan_depends_on()
    unknown = sorted(set(listed) - set(models))
    assert not unknown, f"macros/privacy_scan_depends_on.sql lists models that do not exist (renamed?): {unknown}"
    aggregates = MODELS / "marts" / "aggregates"
    scoped = {n: p for n, p in models.items() if aggregates not in p.parents}
    assert not set(listed) - set(scoped), "the published aggregates must not be listed (see the macro)"
    built_before: set[str] = set()
    todo = list(listed)
    while todo:
        name = todo.pop()
        if name in built_before:
            continue
        built_before.add(name)
        if name == "snp_crime_outcomes":
            text = scoped[name].read_text()
            todo += [n for n in re.findall(r"ref\('(\w+)'\)", text) if n in scoped]
        else:
            todo += sorted(_reads(scoped[name], set(scoped) - {name}))
    missing = sorted(set(scoped) - built_before)
    assert not missing, ("models past the privacy boundary that the leak scans may run before: add each to"
                         f" macros/privacy_scan_depends_on.sql (or a model that reads it): {missing}")
    for scan in SCANS:
        sql = (PROJECT_DIR / "data-tests" / f"{scan}.sql").read_text()
        assert "{{ privacy_scan_depends_on() }}" in sql, f"{scan} must take its refs from privacy_scan_depends_on()"
        assert "-- depends_on:" not in sql, f"{scan}: a hand-kept depends_on list"


def test_sensitivity_is_declared_once_on_the_extract_contracts():
    """Raw columns are marked where the raw table is declared (the source), where the scans read them; staging
    marks nothing (it reads current loads only, and renames); past the boundary only pseudonyms are marked."""
    declared = _column_sensitivities()
    assert {s for cols in declared.values() for s in cols.values()} <= SENSITIVITIES
    staging = {n for n, cols in declared.items() if n.startswith("model:stg_") and cols}
    assert not staging, f"meta.sensitivity belongs on the source columns, not on staging models: {sorted(staging)}"
    past = {f"{n}.{c}": s for n, cols in declared.items() if n.startswith("model:") for c, s in cols.items()}
    assert set(past.values()) == {"pseudonym"}, past
    raw = {f"{n.removeprefix('source:')}.{c}": s for n, cols in declared.items() if n.startswith("source:")
           for c, s in cols.items()}
    for column, kind in {
        "police_uk.street_crimes.crime_id": "identifier", "police_uk.crime_outcomes.crime_id": "identifier",
        "police_uk.street_crimes.latitude": "point_location", "police_uk.street_crimes.context": "free_text",
        "mps.crime_victims.crime_id": "identifier", "mps.crime_perpetrators.crime_id": "identifier",
        "mps.recorded_crime_outcomes.crime_id": "identifier", "mps.asb_incidents.incident_reference": "identifier",
        "mps.asb_incidents.location_description": "free_text", "lfb.incidents.incident_number": "identifier",
        "lfb.incidents.postcode_full": "identifier", "lfb.incidents.latitude": "point_location",
        "las.violence_dispatches.incident_reference": "identifier",
        "las.violence_dispatches.latitude": "point_location",
        "istv.assault_attendances.location_description": "free_text",
        "istv.assault_attendances.assault_method_other": "free_text",
    }.items():
        assert raw.get(column) == kind, f"{column}: meta.sensitivity should be {kind}, is {raw.get(column)}"


def test_no_model_declares_a_geography_level():
    """meta.geography_level had no reader (row access keys on meta.access.geography_column): it is gone."""
    for folder in (MODELS, PROJECT_DIR / "snapshots", PROJECT_DIR / "declarations"):
        for path in folder.rglob("*.yml"):
            assert not re.search(r"^\s*(meta:\s*\{\s*)?geography_level:", path.read_text(), re.M), path


LEAKY_MODEL = """-- a deliberately weakened model: LFB incident numbers past the privacy boundary
select
    agency,
    incident_number as incident_reference_kept,
    count(*) as row_count
from {{ ref('stg_lfb__incidents') }}
group by agency, incident_number
"""


def _with_a_leaky_model(cfg, bootstrap, contracts, tmp_path_factory, undo, name: str, sql: str):
    """LFB incidents loaded, and a copy of the project with one more quality model `name` (built): the
    settings of that copy."""
    from fire_transport import ingest_all, truncate_raw

    from safestats import dbt
    from safestats.synth import lfb

    tmp = tmp_path_factory.mktemp("privacy-scan")
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        truncate_raw(su, contracts)
    loads = ingest_all(cfg, contracts, lfb.synthesise("2025-02", "2025-02", tmp / "land", scale=0.02))
    assert any(load.status == "loaded" and load.dataset == "lfb_incidents" for load in loads), loads
    weakened = tmp / "project"
    shutil.copytree(cfg.project_dir, weakened, ignore=shutil.ignore_patterns(
        ".*", "src", "tests", "docs", "superset", "flows", "access_policies", "requirements", "target", "logs"))
    # rebuilt whole: the quality models refresh by month, and this one reads no table that records its months
    (weakened / "models" / "quality" / f"{name}.sql").write_text("{{ config(materialized='table') }}\n" + sql)
    weak = replace(cfg, project_dir=weakened)

    def drop_the_leaky_model():
        with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
            su.execute(f"drop table if exists quality.{name}")

    undo(drop_the_leaky_model)
    built = dbt.run(["run", "--select", f"+{name}"], weak)
    assert built.success, built.failures
    return weak


def test_the_scan_reports_an_lfb_incident_number_carried_past_the_boundary(cfg, bootstrap, contracts,
                                                                           tmp_path_factory, undo):
    """In a copy of the project with one more quality model, which keeps the raw incident number, the scan fails
    and its rows name the relation, the column and the raw column; the real project's scan passes on the same
    data."""
    from safestats import dbt

    weak = _with_a_leaky_model(cfg, bootstrap, contracts, tmp_path_factory, undo, "leaky_lfb_incident_numbers",
                               LEAKY_MODEL)
    scan = "assert_no_sensitive_value_past_the_privacy_boundary"
    caught = dbt.run(["test", "--select", scan], weak)
    assert not caught.success
    assert caught.count("test", "fail") == 1, caught.failures
    assert f"test.safestats.{scan}" in " ".join(caught.failures), caught.failures
    compiled = cfg.home / "target" / "compiled" / "safestats" / "data-tests" / f"{scan}.sql"
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        leaks = su.execute(compiled.read_text()).fetchall()
        incidents = su.execute("select count(distinct incident_number) from raw.lfb_incidents").fetchone()[0]
    assert [(r.split(".")[-2:], c, f) for r, c, f, _ in leaks] == [(
        ['"quality"', '"leaky_lfb_incident_numbers"'], "incident_reference_kept",
        "lfb.incidents.incident_number (identifier)")], leaks
    assert incidents > 10 and leaks[0][3] >= incidents
    clean = dbt.run(["test", "--select", scan], cfg)
    assert clean.success and clean.count("test", "pass") == 1, clean.failures


LEAKY_COORDINATES = """-- a deliberately weakened model: raw LFB latitudes as text, named unlike a coordinate
select
    agency,
    latitude as kept_value,
    count(*) as row_count
from {{ ref('stg_lfb__incidents') }}
group by agency, latitude
"""


def test_the_scan_reports_a_raw_coordinate_carried_past_the_boundary_as_text(cfg, bootstrap, contracts,
                                                                             tmp_path_factory, undo):
    """A quality model that keeps the raw latitudes as text, in a column not named like a coordinate: the point
    location scan finds them by value (its cheap pre-filter lets every decimal number through to the pattern)."""
    from safestats import dbt

    weak = _with_a_leaky_model(cfg, bootstrap, contracts, tmp_path_factory, undo, "leaky_lfb_coordinates",
                               LEAKY_COORDINATES)
    scan = "assert_no_point_location_past_the_privacy_boundary"
    caught = dbt.run(["test", "--select", scan], weak)
    assert not caught.success and caught.count("test", "fail") == 1, caught.failures
    compiled = cfg.home / "target" / "compiled" / "safestats" / "data-tests" / f"{scan}.sql"
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        findings = su.execute(compiled.read_text()).fetchall()
    assert [(r.split(".")[-1], c, f) for r, c, f, _ in findings] == [
        ('"leaky_lfb_coordinates"', "kept_value", "raw coordinate as text")], findings
    assert findings[0][3] > 10, findings


def test_a_data_tests_sql_header_is_set_for_its_query_alone(cfg, bootstrap, tmp_path):
    """The sensitive-value scan's work_mem (a hash of every sensitive value, held in memory rather than spilled at
    ten years) comes from its sql_header, which dbt 1.11 ignores in a test: macros/materialization_test.sql runs
    it in the test's transaction. One probe sees its own setting; the other, without a header, never does."""
    from safestats import dbt

    project = tmp_path / "project"
    shutil.copytree(cfg.project_dir, project, ignore=shutil.ignore_patterns(
        ".*", "src", "tests", "docs", "superset", "flows", "access_policies", "requirements", "target", "logs"))
    (project / "data-tests" / "probe_sql_header.sql").write_text(
        "{{ config(sql_header=\"set local work_mem = '77MB';\") }}\n"
        "select current_setting('work_mem') as work_mem where current_setting('work_mem') <> '77MB'\n")
    (project / "data-tests" / "probe_without_header.sql").write_text(
        "select current_setting('work_mem') as work_mem where current_setting('work_mem') = '77MB'\n")
    probed = dbt.run(["test", "--select", "probe_sql_header", "probe_without_header"],
                     replace(cfg, project_dir=project))
    assert probed.success and probed.count("test", "pass") == 2, probed.failures
    scan = (cfg.project_dir / "data-tests" / "assert_no_sensitive_value_past_the_privacy_boundary.sql").read_text()
    assert "sql_header=\"set local work_mem = '512MB';\"" in scan
