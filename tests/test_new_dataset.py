"""`safestats dev new-dataset` end to end, on a copy of the project in a temporary folder (the repository is never
touched): a synthetic "community reports" extract is scaffolded into a dataset, the generated files parse and
lint, the sample loads through the ingest, the new models build with their tests, the disclosure check
attacks the new candidate, and the new mart is under row-level security (an organisation sees only its
borough). Also: the refusals, and type inference on a tricky sample checked against the ingest's SQL readers."""
from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from helpers import write_csv
from superset_helpers import SUPERSET_PORT, WEAKENED_PORT

from safestats import cli, database, dbt, scaffold, warehouse
from safestats.config import PROJECT_DIR
from safestats.contracts import load_contracts
from safestats.scaffold import infer
from safestats.scaffold.render import paths as scaffold_paths

NAME = "community_reports"
SAMPLE_NAME = "2024-03-acme-community-reports.csv"
# What a dbt project needs to build and check, plus what sync and the checklist read.
PROJECT_PARTS = ("models", "macros", "seeds", "semantic", "snapshots", "data-tests", "access_policies", "superset",
                 "dbt_project.yml", "profiles.yml", ".sqlfluff")
HEADER = ["Report Ref", "Report Date", "Reported Time", "Borough Code", "LSOA Code", "Category", "Description",
          "Latitude", "Longitude", "People Involved"]
CAMDEN, HACKNEY, CARDIFF = "E09000007", "E09000012", "W06000015"
CATEGORIES = ("Noise", "Litter", "Graffiti")
STORIES = ("Loud music from the flat above every night since Tuesday",
           "Bags of rubbish dumped beside the bus stop on the corner again",
           "Tags sprayed across the railway bridge wall overnight by two people")


def sample_rows(n: int = 90) -> list[list[str]]:
    """Two London boroughs (and a few Welsh and blank ones), three categories, day-first and ISO dates, free text,
    coordinates, integers written as 131.0 and 1,234, some blank LSOAs."""
    rows = []
    for i in range(n):
        borough = CARDIFF if i % 30 == 29 else "" if i % 30 == 28 else (CAMDEN if i % 2 else HACKNEY)
        day = i % 28 + 1
        rows.append([
            f"CR-{i:05d}",
            f"{day:02d}/03/2024" if i % 3 else f"2024-03-{day:02d}",
            f"{i % 24:02d}:{i % 60:02d}",
            borough,
            "" if i % 7 == 0 else f"E0100{900 + i % 5:04d}",
            CATEGORIES[i % 3],
            f"{STORIES[i % 3]} (report {i})",
            f"{51.50 + (i % 10) / 100:.4f}",
            f"{-0.10 - (i % 10) / 100:.4f}",
            "131.0" if i == 5 else "1,234" if i == 6 else str(i % 4 + 1),
        ])
    return rows


# ---------------------------------------------------------------------------------------------------------
# Without a server: inference and refusals
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def copy_project(root: Path) -> Path:
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / part)
    (root / "docs" / "datasets").mkdir(parents=True)
    return root


TRICKY = {
    "When": ["05/03/2024", "2024-03-06", " 31/03/2024 ", "", "N/A"],          # day first and ISO: a date
    "Month": ["2024-03", "2024-03", "", "2024-03", "2024-03"],
    "Count": ["131.0", "1,234", "+7", "", "1e3"],                              # whole numbers: integer
    "Amount": ["131.5", "-0.14", ".5", "1,234.5", "NULL"],                     # number
    "Not A Number": ["1_000", "12", "0x1A", "NaN", "3"],                       # PostgreSQL refuses these: text
    "Called At": ["2024-03-05 14:30", "05/03/2024 09:05:10", "2024-03-06T23:59:59", "", "-"],   # timestamp
    "Time Of Call": ["00:15", "9:05", "23:59:59", "00:15:23.5", ""],           # time
    "Latitude": ["51.5", "51.6", "", "51.45", "51.49"],
    "Lng": ["-0.14", "-0.1", "0.05", "", "-0.2"],
    "Northing Lat": ["48.1", "51.5", "51.5", "51.5", "51.5"],                  # outside the UK's box: number
    "Bad Date": ["31/02/2024", "01/03/2024", "", "", ""],                      # no 31 Feb: text
    "US Date": ["02/13/2024", "01/03/2024", "", "", ""],                       # month first is not read: text
    "IncidentNumber": ["A1", "A2", "A3", "A4", "A5"],
    "Blank Column": ["", "", "", "", ""],
}
EXPECTED_TYPES = {"when": "date", "month": "month", "count": "integer", "amount": "number",
                  "not_a_number": "text", "called_at": "timestamp", "time_of_call": "time", "latitude": "latitude",
                  "lng": "longitude", "northing_lat": "number", "bad_date": "text", "us_date": "text",
                  "incident_number": "text", "blank_column": "text"}
EXPECTED_NOT_BLANK = {"incident_number", "not_a_number", "northing_lat"}


def tricky_columns() -> list[infer.InferredColumn]:
    headers = list(TRICKY)
    rows = [[TRICKY[h][i] for h in headers] for i in range(5)]
    return infer.infer_columns(headers, rows)


def test_inference_gets_each_type_right_on_a_tricky_sample():
    found = {c.name: c for c in tricky_columns()}
    assert {n: c.type for n, c in found.items()} == EXPECTED_TYPES
    assert {n for n, c in found.items() if c.not_blank} == EXPECTED_NOT_BLANK
    assert infer.column_names(["Report Ref", "IncidentNumber", "LSOA code", "Notional Cost (£)", "2nd Pump",
                               "report ref"]) == ["report_ref", "incident_number", "lsoa_code", "notional_cost",
                                                  "col_2nd_pump", "report_ref_2"]


def test_the_file_name_pattern_captures_month_and_agency_as_existing_contracts_do():
    found = infer.file_name_pattern(Path("2024-03-acme-widgets.csv"), None, "widgets")
    assert found.pattern == r"(?P<period>\d{4}-\d{2})-(?P<agency>acme)-widgets\.csv" and found.agency == "acme"
    assert found.period == "2024-03"
    for contract in load_contracts(PROJECT_DIR / "models"):   # the same named groups as every contract
        assert {"period", "agency"} <= set(contract.file_name.groupindex)
    given = infer.file_name_pattern(Path("2024-03-acme-widgets.csv"), "acme", "widgets")
    assert given == found
    other = infer.file_name_pattern(Path("reports march.csv"), "acme", "community_reports")
    assert other.pattern.endswith(r"-(?P<agency>acme)-community-reports\.csv")


def test_refusals_are_one_line_and_write_nothing(project, tmp_path, capsys):
    sample = write_csv(tmp_path / SAMPLE_NAME, HEADER, sample_rows(20))
    before = sorted(p for p in project.rglob("*"))

    def refused(*args: str) -> str:
        assert cli.main(["dev", "new-dataset", *args, "--project-dir", str(project)]) == 2
        message = capsys.readouterr().err.strip()
        assert "\n" not in message and message.startswith("error:")
        assert sorted(p for p in project.rglob("*")) == before
        return message

    assert "exists already" in refused("lfb_incidents", "--sample", str(sample))
    assert "is not a dataset name" in refused("Community-Reports", "--sample", str(sample))
    assert "is not a dataset name" in refused("2reports", "--sample", str(sample))
    assert "unreadable" in refused(NAME, "--sample", str(tmp_path / "missing.csv"))
    binary = tmp_path / "2024-03-acme-binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    assert "unreadable" in refused(NAME, "--sample", str(binary))
    semicolons = tmp_path / "2024-03-acme-semicolons.csv"
    semicolons.write_text("a;b;c\n1;2;3\n")
    assert "not comma-separated" in refused(NAME, "--sample", str(semicolons))
    header_only = write_csv(tmp_path / "2024-03-acme-empty.csv", HEADER, [])
    assert "no rows" in refused(NAME, "--sample", str(header_only))
    assert "agency" in refused(NAME, "--sample", str(write_csv(tmp_path / "reports.csv", HEADER, sample_rows(3))))


def test_a_second_run_never_overwrites(project, tmp_path, capsys):
    sample = write_csv(tmp_path / SAMPLE_NAME, HEADER, sample_rows(20))
    assert cli.main(["dev", "new-dataset", NAME, "--sample", str(sample), "--project-dir", str(project)]) == 0
    printed = capsys.readouterr().out
    assert "Privacy treatment" in printed and "wrote docs/datasets/community_reports.md" in printed
    assert all((project / rel).read_text() for rel in scaffold_paths(NAME))
    (project / "models" / "suppressed" / f"{NAME}.sql").write_text("-- edited by a person\n")
    assert cli.main(["dev", "new-dataset", NAME, "--sample", str(sample), "--project-dir", str(project)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (project / "models" / "suppressed" / f"{NAME}.sql").read_text() == "-- edited by a person\n"
    # and a partial earlier run (one file left) is refused too, before anything is written
    shutil.rmtree(project / "models" / "staging" / NAME)
    for rel in scaffold_paths(NAME)[3:]:
        if rel != f"docs/datasets/{NAME}.md":
            (project / rel).unlink()
    with pytest.raises(scaffold.ScaffoldError, match="exists already"):
        scaffold.new_dataset(NAME, sample, project_dir=project)
    assert not (project / "models" / "staging" / NAME).exists()


def test_the_scaffold_reads_the_sample_as_intended(project, tmp_path):
    sample = write_csv(tmp_path / SAMPLE_NAME, HEADER, sample_rows())
    done = scaffold.new_dataset(NAME, sample, project_dir=project)
    roles = {c.name: c.role for c in done.plan.columns}
    assert roles == {"report_ref": "identifier", "report_date": "kept", "reported_time": "kept",
                     "borough_code": "borough_code", "lsoa_code": "lsoa", "category": "category",
                     "description": "free_text", "latitude": "point", "longitude": "point",
                     "people_involved": "kept"}
    assert {c.name: c.type for c in done.plan.columns} == {
        "report_ref": "text", "report_date": "date", "reported_time": "time", "borough_code": "text",
        "lsoa_code": "text", "category": "text", "description": "text", "latitude": "latitude",
        "longitude": "longitude", "people_involved": "integer"}
    assert done.plan.period_column == "report_date"
    [contract] = [c for c in load_contracts(project / "models") if c.dataset == NAME]
    assert contract.file_name.fullmatch(SAMPLE_NAME) and contract.agencies == {"acme": "Acme"}
    assert {c.name for c in contract.columns if c.not_blank} == {
        "report_ref", "report_date", "reported_time", "category", "description", "latitude", "longitude",
        "people_involved"}
    suppressed = (project / "models" / "suppressed" / f"{NAME}.sql").read_text()
    for dropped in ("records.description", "records.latitude", "records.longitude", "records.report_ref,"):
        assert dropped not in suppressed
    page = (project / "docs" / "datasets" / f"{NAME}.md").read_text()
    assert done.checklist in page
    for decision in ("Privacy treatment", "Agreements", "Category mapping", "Minimum group size"):
        assert decision in done.checklist
    for value in CATEGORIES:
        assert f"`{value}`" in done.checklist


# ---------------------------------------------------------------------------------------------------------
# On the embedded server: ingest, dbt, disclosure control, row-level security
# ---------------------------------------------------------------------------------------------------------

MODELS = (f"fct_{NAME}", f"{NAME}_exclusions", f"candidate_agg_{NAME}_monthly", f"agg_{NAME}_monthly")
CHECKS = ["assert_no_point_location_past_the_privacy_boundary", "assert_only_the_privacy_boundary_reads_staging",
          f"source:{NAME}"]


@dataclasses.dataclass
class World:
    cfg: object
    project: Path
    sample: Path
    load: object = None
    build: object = None


@pytest.fixture(scope="module")
def world(cfg, tmp_path_factory):
    """A copy of the project with the dataset scaffolded into it; the raw table created from its contract."""
    root = tmp_path_factory.mktemp("new-dataset")
    project = copy_project(root / "project")
    sample = write_csv(root / "sample" / SAMPLE_NAME, HEADER, sample_rows())
    scaffold.new_dataset(NAME, sample, project_dir=project)
    copy = dataclasses.replace(cfg, project_dir=project)
    contracts = load_contracts(project / "models")
    with psycopg.connect(warehouse.loader_endpoint(copy).conninfo(), autocommit=True) as loader:
        warehouse.ensure_raw_table(loader, next(c for c in contracts if c.dataset == NAME))
    yield World(copy, project, sample)
    forget(cfg)


def forget(cfg) -> None:
    """Leave the session's warehouse as the repository's project knows it: the new relations dropped and the
    repository's agreements applied again."""
    from safestats.policies import service

    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as su:
        for relation in (f"marts.agg_{NAME}_monthly", f"marts.fct_{NAME}", f"disclosure.agg_{NAME}_monthly",
                         f"quality.{NAME}_exclusions", f"suppressed.{NAME}"):
            su.execute(f"drop table if exists {relation} cascade")
        su.execute(f"drop view if exists staging.stg_{NAME}__records cascade")
        su.execute(f"drop table if exists raw.{NAME}")
    service.apply(cfg)
    from safestats.superset import server, sync

    if server.running_pid(cfg):   # the session's Superset: its roles and users as the repository's agreements say
        sync.sync(cfg)


def test_the_generated_files_parse_and_lint(world):
    outcome = dbt.run(["parse"], world.cfg)
    assert outcome.success, outcome.failures
    sql = [rel for rel in scaffold_paths(NAME) if rel.endswith(".sql")]
    lint = subprocess.run([str(Path(sys.executable).with_name("sqlfluff")), "lint", *sql], cwd=world.project,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]


def test_the_sample_loads_through_the_ingest(world, loader):
    from safestats.ingest import ingest_landing

    landing = world.project.parent / "landing"
    header, rows = HEADER, sample_rows()
    bad = [rows[0][:1] + ["31/02/2024"] + rows[0][2:],              # no such day
           rows[1][:7] + ["48.1", "-0.14"] + rows[1][9:]]           # a point outside the United Kingdom
    write_csv(landing / "2024-03" / SAMPLE_NAME, header, rows + bad)
    [result] = ingest_landing(loader, landing, load_contracts(world.project / "models"))
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (len(rows) + 2, len(rows), 2)
    recorded = loader.execute("select rows_read, rows_loaded, rows_rejected from raw._loads where dataset = %s"
                              " and status = 'loaded'", (NAME,)).fetchone()
    assert recorded == (len(rows) + 2, len(rows), 2) and recorded[0] == recorded[1] + recorded[2]
    reasons = [r for (r,) in loader.execute("select reason from raw._rejects where load_id = %s order by 1",
                                            (result.load_id,))]
    assert any("Report Date" in r for r in reasons) and any("United Kingdom" in r for r in reasons), reasons
    world.load = result


def test_the_new_models_build_with_their_tests(world, superuser):
    assert world.load is not None, "the sample did not load"
    selection = [f"+{m}" for m in MODELS] + CHECKS
    outcome = dbt.run(["build", "--select", *selection, "--indirect-selection", "cautious"], world.cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0, outcome.failures
    assert outcome.count("test", "pass") > 40
    world.build = outcome
    boroughs = dict(superuser.execute(f"select borough_code, count(*) from marts.fct_{NAME} group by 1"))
    assert set(boroughs) == {CAMDEN, HACKNEY}
    excluded = dict(superuser.execute(f"select reason, excluded_row_count from quality.{NAME}_exclusions"))
    assert excluded == {"outside_london": 3, "no_borough": 3}
    assert sum(boroughs.values()) + sum(excluded.values()) == world.load.rows_loaded
    columns = {c for (c,) in superuser.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s",
        (f"fct_{NAME}",))}
    assert not columns & {"description", "latitude", "longitude", "report_ref"}
    assert "report_ref_pseudo_id" in columns
    cells = superuser.execute(f"select count(*), count(*) filter (where community_report_count_suppressed)"
                              f" from disclosure.agg_{NAME}_monthly where geography_level = 'borough'").fetchone()
    assert cells[0] > 0


def test_the_disclosure_check_attacks_the_new_candidate(world):
    from safestats.sdc import service

    assert world.build is not None, "the models did not build"
    checked = service.check(world.cfg)
    assert f"agg_{NAME}_monthly" in {r.name for r in checked.relations}
    assert "2024-03" in checked.months
    assert [f.text() for f in checked.findings] == [] and checked.breaches == []


def test_the_new_mart_is_under_row_level_security(world, superuser):
    """Forced RLS from the build's post-hook; once an agreement names the dataset, its organisation's analyst
    reads only their own borough's rows, and an organisation without it reads nothing."""
    from safestats import credentials
    from safestats.policies import service

    assert world.build is not None, "the models did not build"
    flags = superuser.execute("select relrowsecurity, relforcerowsecurity from pg_class"
                              " where oid = %s::regclass", (f"marts.fct_{NAME}",)).fetchone()
    assert flags == (True, True)
    agreement = world.project / "access_policies" / "organisations" / "camden.yml"
    doc = yaml.safe_load(agreement.read_text())
    doc["datasets"][NAME] = {"level": "record", "geography": "own_area"}
    agreement.write_text(yaml.safe_dump(doc, sort_keys=False))
    service.apply(world.cfg)
    outcome = dbt.run(["build", "--select", f"fct_{NAME}", f"agg_{NAME}_monthly", "--exclude", "test_type:data"],
                      world.cfg)   # the post-hook applies the new statements inside the rebuild, as a refresh does
    assert outcome.success, outcome.failures
    passwords = credentials.user_passwords(world.cfg)
    ep = database.endpoint(world.cfg)
    with psycopg.connect(ep.as_user("camden_analyst", passwords["camden_analyst"]).conninfo()) as camden:
        seen = dict(camden.execute(f"select borough_code, count(*) from marts.fct_{NAME} group by 1"))
    assert set(seen) == {CAMDEN} and seen[CAMDEN] > 0
    with psycopg.connect(ep.as_user("hackney_analyst", passwords["hackney_analyst"]).conninfo()) as hackney:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            hackney.execute(f"select count(*) from marts.fct_{NAME}").fetchone()


def test_another_shape_of_sample_parses_and_lints(cfg, tmp_path):
    """Borough names instead of codes, a YYYY-MM month column, a timestamp, ward codes, no obvious category and
    an `Agency` column (renamed: the models add their own): the generated project still parses and lints."""
    project = copy_project(tmp_path / "project")
    header = ["Month", "Logged At", "Borough", "Ward Code", "Agency", "Outcome Notes", "Postcode", "Staff Count"]
    rows = [["2024-03", f"2024-03-{i % 28 + 1:02d} {i % 24:02d}:15:00", ("Hammersmith & Fulham", "Camden")[i % 2],
             f"E0501{i % 9:04d}", "Acme Trust", f"Officer spoke to the family at length, visit number {i}",
             "NW1 0AA", str(i % 3)] for i in range(40)]
    sample = write_csv(tmp_path / "2024-03-acme-visits.csv", header, rows)
    done = scaffold.new_dataset("outreach_visits", sample, project_dir=project)
    roles = {c.name: (c.role, c.type) for c in done.plan.columns}
    assert roles == {"month": ("kept", "month"), "logged_at": ("kept", "timestamp"),
                     "borough": ("borough_name", "text"), "ward_code": ("ward", "text"),
                     "agency_as_sent": ("kept", "text"), "outcome_notes": ("free_text", "text"),
                     "postcode": ("point", "text"), "staff_count": ("kept", "integer")}
    assert done.plan.period_column == "month" and done.plan.category is None and done.plan.ward_from == "ward"
    candidate = (project / "models" / "disclosure" / "candidate_agg_outreach_visits_monthly.sql").read_text()
    assert "ward_from='ward'" in candidate and "category_column" not in candidate
    outcome = dbt.run(["parse"], dataclasses.replace(cfg, project_dir=project))
    assert outcome.success, outcome.failures
    sql = [rel.replace("community_reports", "outreach_visits") for rel in scaffold_paths(NAME) if rel.endswith(".sql")]
    lint = subprocess.run([str(Path(sys.executable).with_name("sqlfluff")), "lint", *sql], cwd=project,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_inferred_types_are_what_the_ingests_readers_accept(loader):
    """The Python inference agrees with raw.extract_*: every value of an inferred type is read by its SQL reader
    (or blank), and each reader of a type tried before it refuses at least one value (the narrowest type wins)."""
    readers = {"integer": "raw.extract_integer", "number": "raw.extract_number", "month": "raw.extract_month",
               "timestamp": "raw.extract_timestamp", "date": "raw.extract_date", "time": "raw.extract_time",
               "latitude": "raw.extract_number", "longitude": "raw.extract_number"}

    def unread(reader: str, values: list[str]) -> list[str]:
        return [v for (v,) in loader.execute(f"select v from unnest(%s::text[]) as v where not raw.is_blank(v)"
                                             f" and {reader}(v) is null", (values,))]

    for column in tricky_columns():
        values = list(column.values)
        if column.type in readers:
            assert unread(readers[column.type], values) == [], (column.name, column.type)
        if column.type == "text":
            tried_before = infer.TYPE_ORDER if column.present else ()
        elif column.type in infer.TYPE_ORDER:
            tried_before = infer.TYPE_ORDER[:infer.TYPE_ORDER.index(column.type)]
        else:
            tried_before = ()
        for kind in tried_before:
            assert unread(readers[kind], values), (column.name, column.type, kind)


SUPERSET_PORTS = (SUPERSET_PORT, WEAKENED_PORT)


@pytest.mark.skipif(any(_port_busy(port) for port in SUPERSET_PORTS),
                    reason=f"ports {'/'.join(map(str, SUPERSET_PORTS))} are in use by another run")
def test_superset_sync_makes_a_dataset_of_the_new_mart(world, superset, monkeypatch):
    """Needs the session's Superset (which builds the police marts first): sync from the copy, whose models
    hold the new dataset, lists marts.fct_community_reports among its datasets."""
    from safestats.policies import service
    from safestats.superset import sync

    assert world.build is not None, "the models did not build"
    # the copy has no Superset environment of its own: the checkout's serves it
    monkeypatch.setenv("SAFESTATS_SUPERSET_VENV", str(PROJECT_DIR / ".venv-superset"))
    service.apply(world.cfg)
    result = sync.sync(world.cfg)
    assert f"marts.fct_{NAME}" in result.datasets and f"marts.agg_{NAME}_monthly" in result.datasets

