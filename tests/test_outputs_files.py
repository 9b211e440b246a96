"""The borough core dataset for violence and the feedback to suppliers, built from the outputs world: the core
files print only released cells (or sums of them), and a variant's files only its counts and boroughs; the
feedback accounts for every rejected row."""
from __future__ import annotations

import csv
import io
import zipfile
from html import unescape
from pathlib import Path

import psycopg
import pytest
from fire_transport import ingest_all
from helpers import STREET_HEADER, street_row, write_csv
from openpyxl import load_workbook
from outputs_world import ensure_outputs_world

from safestats import warehouse
from safestats.config import PROJECT_DIR
from safestats.outputs import audience
from safestats.outputs.area import Area
from safestats.outputs.core_dataset import MEASURES, build_core_datasets, released_months
from safestats.outputs.figures import default_rule
from safestats.outputs.supplier_feedback import build_supplier_feedback, sensitivities

MONTH = "2025-12"
REFRESH = "2026-01-15"
COUNTS = [f"{m.name}_count" for m in MEASURES]
EVERYTHING = (tuple(COUNTS), None)
CAMDEN_TWO = (("police_violence_count", "knife_crime_count"), ("E09000007",))
VARIANTS = {audience.core(share): share for share in (EVERYTHING, CAMDEN_TWO)}
ALL_ID, CAMDEN_ID = (audience.core(share).removeprefix("core:") for share in (EVERYTHING, CAMDEN_TWO))
ISTV_HEADER = ["Site code", "Reporting period start date", "Reporting period end date", "Arrival date",
               "Arrival time", "Assault date", "Assault time", "Assault method", "Assault method other description",
               "Assault location type", "Assault location description"]
SECRET = "Flat 3; behind the PLANTED-SECRET bins"


@pytest.fixture(scope="module")
def world(cfg, bootstrap, contracts, tmp_path_factory):
    return ensure_outputs_world(cfg, bootstrap, contracts, tmp_path_factory.mktemp("outputs-landing"))


@pytest.fixture(scope="module")
def conn(world):
    with psycopg.connect(warehouse.dbt_endpoint(world).conninfo(), autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def core(world, conn, tmp_path_factory):
    """The core dataset's two variants built twice, into two areas."""
    builds = []
    for _ in range(2):
        area = Area(tmp_path_factory.mktemp("core-area"))
        builds.append((area, build_core_datasets(conn, area, MONTH, rule=default_rule(world), variants=VARIANTS)))
        area.save()
    return builds


def _istv_row(**overrides) -> list[str]:
    row = dict(zip(ISTV_HEADER, ["RAX01", "2023-01-01", "2023-01-31", "2023-01-05", "14:20", "2023-01-05", "13:50",
                                 "01", "", "01", "High Street"]))
    row.update(overrides)
    return [row[h] for h in ISTV_HEADER]


@pytest.fixture(scope="module")
def planted(world, bootstrap, contracts, tmp_path_factory):
    """Files for a month outside the world with known rejects, and a quarantined one; removed afterwards."""
    land = tmp_path_factory.mktemp("planted")
    street = write_csv(land / "2023-01-metropolitan-street.csv", STREET_HEADER, [
        street_row(month="2023-01", crime_id="ok"),
        street_row(month="2023-13", crime_id="badmonth"),
        street_row(month="2023-01", crime_id="notype", crime_type=" "),
        street_row(month="2023-01", crime_id="swapped", lon="51.5400", lat="-0.1400"),
        street_row(month="2023-13", crime_id="twice", crime_type=""),
    ])
    istv = write_csv(land / "2023-01-rax01-istv.csv", ISTV_HEADER, [
        _istv_row(), _istv_row(**{"Arrival time": "25:10", "Assault location description": SECRET})])
    with istv.open("a") as f:
        f.write(f"RAX01,2023-01-01,short row,{SECRET}\n")
    bad_header = [h for h in STREET_HEADER if h != "Crime type"]
    quarantined = write_csv(land / "2023-02-metropolitan-street.csv", bad_header,
                            [["x"] * len(bad_header)])
    results = {r.path.name: r for r in ingest_all(world, contracts, [street, istv, quarantined])}
    yield results
    ids = [r.load_id for r in results.values() if r.load_id]
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        for dataset in ("police_uk_street_crimes", "istv_assault_attendances"):
            su.execute(f"delete from raw.{dataset} where _load_id = any(%s)", (ids,))
        su.execute("delete from raw._rejects where load_id = any(%s)", (ids,))
        su.execute("delete from raw._loads where load_id = any(%s)", (ids,))


@pytest.fixture(scope="module")
def feedback(world, conn, planted, tmp_path_factory):
    area = Area(tmp_path_factory.mktemp("feedback-area"))
    outputs = build_supplier_feedback(conn, area, PROJECT_DIR, load_ids=None, refresh_date=REFRESH)
    area.save()
    return area, outputs


def _read_csv(area: Area, path: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO((area.base / path).read_text(encoding="utf-8"))))


def _released(conn) -> dict:
    rows = conn.execute("select to_char(incident_month, 'YYYY-MM-DD'), borough_code, " + ", ".join(COUNTS)
                        + " from release.agg_borough_violence_core_monthly").fetchall()
    return {(r[0], r[1]): dict(zip(COUNTS, r[2:])) for r in rows}


def _shown(text: str) -> int | None:
    return int(text) if text != "" else None


def test_core_counts_are_released_cells_and_follow_the_rule(world, conn, core):
    area, outputs = core[0]
    rule = default_rule(world)
    released = _released(conn)
    assert MONTH in released_months(conn)
    checked = 0
    for out in outputs:
        if not out.path.endswith(".csv"):
            continue
        rows = _read_csv(area, out.path)
        for row in rows:
            for col in VARIANTS[out.audience][0]:
                shown = _shown(row[col])
                assert shown is None or not rule.breaks(shown), (out.path, col, shown)
                if row.get("is_total") == "true":
                    cells = [released[(row["incident_month"], r["geography_code"])][col] for r in rows
                             if r["is_total"] == "false"]
                    assert shown == sum(c for c in cells if c is not None)
                    assert row[f"{col}_complete"] == ("true" if all(r[f"{col}_suppressed"] == "false" for r in rows)
                                                      else "false")
                else:
                    code = row.get("borough_code") or row["geography_code"]
                    assert shown == released[(row["incident_month"], code)][col], (out.path, col)
                checked += 1
    assert checked >= (33 + 34) * len(COUNTS) + 2


def test_core_files_are_named_stably_and_borough_files_hold_twelve_months(core):
    (area, first), (_, second) = core
    assert [o.path for o in first] == [o.path for o in second]
    paths = {o.path for o in first}
    assert len(paths) == 34 * 2 + 2
    assert f"core_dataset/{MONTH}/{ALL_ID}/borough-core-violence-{MONTH}-london.csv" in paths
    assert f"core_dataset/{MONTH}/{ALL_ID}/borough-core-violence-{MONTH}-E09000007.xlsx" in paths
    assert all(o.kind == "core_dataset" and o.period == MONTH for o in first)
    assert all(o.path.startswith(f"core_dataset/{MONTH}/{o.audience.removeprefix('core:')}/") for o in first)
    assert {o.audience for o in first} == set(VARIANTS)
    for variant in (ALL_ID, CAMDEN_ID):
        camden = _read_csv(area, f"core_dataset/{MONTH}/{variant}/borough-core-violence-{MONTH}-E09000007.csv")
        assert camden[-1]["incident_month"] == f"{MONTH}-01"
        assert all(r["borough_code"] == "E09000007" for r in camden) and 1 <= len(camden) <= 12


def test_core_xlsx_has_the_data_and_its_definitions(core):
    area, outputs = core[0]
    path = f"core_dataset/{MONTH}/{ALL_ID}/borough-core-violence-{MONTH}-london.xlsx"
    book = load_workbook(area.base / path)
    assert book.sheetnames == ["Data", "Definitions"]
    data = book["Data"]
    table = _read_csv(area, path.replace(".xlsx", ".csv"))
    assert [c.value for c in data[1]] == list(table[0])
    assert all(c.font.bold for c in data[1])
    assert data.max_row == len(table) + 1 == 35
    definitions = "\n".join(str(c.value) for row in book["Definitions"].iter_rows() for c in row if c.value)
    assert "release.agg_borough_violence_core_monthly" in definitions
    assert "withheld" in definitions and MONTH in definitions
    assert all(col in definitions for col in table[0])


def _text_of(area: Area, path: str) -> str:
    """Everything a file holds as text: a CSV, or every part of an XLSX (its sheets, strings and properties)."""
    if path.endswith(".csv"):
        return (area.base / path).read_text(encoding="utf-8")
    with zipfile.ZipFile(area.base / path) as book:
        return "\n".join(book.read(name).decode("utf-8") for name in book.namelist())


def test_a_variants_files_hold_only_its_counts_and_its_boroughs(core):
    area, outputs = core[0]
    columns, boroughs = CAMDEN_TWO
    mine = [o for o in outputs if o.audience == audience.core(CAMDEN_TWO)]
    assert {o.path for o in mine} == {f"core_dataset/{MONTH}/{CAMDEN_ID}/borough-core-violence-{MONTH}-E09000007"
                                      f".{suffix}" for suffix in ("csv", "xlsx")}
    assert {o.subject for o in mine} == set(boroughs)          # no London file: its total sums other boroughs
    others = [m.name for m in MEASURES if f"{m.name}_count" not in columns]
    assert others
    for out in mine:
        text = _text_of(area, out.path)
        assert not [name for name in others if name in text], out.path
        assert all(f"{c}_suppressed" in text and c.replace("_count", "_rate_per_1000") in text for c in columns)
    table = _read_csv(area, mine[0].path)
    assert list(table[0]) == ["incident_month", "borough_code", "borough_name", "population",
                              "police_violence_count", "police_violence_count_suppressed",
                              "police_violence_rate_per_1000", "knife_crime_count", "knife_crime_count_suppressed",
                              "knife_crime_rate_per_1000"]
    book = load_workbook(area.base / mine[1].path)
    assert [c.value for c in book["Data"][1]] == list(table[0])
    defined = {row[0].value for row in book["Definitions"].iter_rows() if row[0].value}
    assert set(table[0]) <= defined and not [d for d in defined for name in others if name in str(d)]
    assert {r["borough_code"] for r in table} == {"E09000007"}
    everything = [o for o in outputs if o.audience == audience.core(EVERYTHING)]
    assert all(all(name in _text_of(area, o.path) for name in COUNTS) for o in everything if o.subject == "london")


def test_a_variant_that_is_not_a_core_share_is_refused(world, conn, tmp_path_factory):
    area = Area(tmp_path_factory.mktemp("core-refused"))
    rule = default_rule(world)
    for variants in ({"core:x": (("population",), None)}, {"core:x": ((), None)}, {"violence_core": EVERYTHING}):
        with pytest.raises(ValueError):
            build_core_datasets(conn, area, MONTH, rule=rule, variants=variants)
    with pytest.raises(ValueError):
        build_core_datasets(conn, area, "1999-01", rule=rule, variants=VARIANTS)
    assert area.written == []


def test_every_reject_appears_in_its_loads_report(conn, feedback, planted):
    area, outputs = feedback
    reports = {o.path: o for o in outputs if o.kind == "supplier_rejects"}
    loads = conn.execute("select load_id, agency, file_name, status from raw._loads"
                         " where status in ('loaded', 'superseded', 'quarantined')").fetchall()
    assert loads
    for load_id, agency, file_name, status in loads:
        mine = [p for p in reports if p.startswith(f"supplier_feedback/{agency}/{load_id}-")]
        if status == "quarantined":
            assert mine == []
            continue
        assert len(mine) == 1, (load_id, mine)
        assert reports[mine[0]].audience == f"supplier:{agency}"
        rows = _read_csv(area, mine[0])
        rejects = conn.execute("select source_row_number from raw._rejects where load_id = %s",
                               (load_id,)).fetchall()
        assert len(rows) >= len(rejects)
        assert {int(r["row_number"]) for r in rows} == {n for (n,) in rejects}
        assert all(r["file"] == file_name for r in rows)


def test_free_text_is_never_repeated(conn, feedback):
    area, outputs = feedback
    free = [(d, h) for (d, h), s in sensitivities(PROJECT_DIR / "models").items() if s == "free_text"]
    assert free
    values = set()
    for dataset, header in free:
        values |= {v for (v,) in conn.execute(
            "select r.record->>%s from raw._rejects r join raw._loads l using (load_id)"
            " where l.dataset = %s and r.record->>%s is not null", (header, dataset, header)) if len(v.strip()) > 3}
    assert SECRET in values
    for out in outputs:
        text = (area.base / out.path).read_text(encoding="utf-8")
        assert not [v for v in values if v in text], out.path
        assert "PLANTED-SECRET" not in text


def test_a_planted_reject_is_reported_by_row_column_and_value(feedback, planted):
    area, _ = feedback
    street = planted["2023-01-metropolitan-street.csv"]
    assert street.status == "loaded" and street.rows_rejected == 4
    rows = _read_csv(area, f"supplier_feedback/metropolitan/{street.load_id}-2023-01-metropolitan-street-rejects.csv")
    got = {(int(r["row_number"]), r["column"], r["value"]) for r in rows}
    # a value starting like a formula is written inert, with a leading apostrophe
    assert got == {(2, "Month", "2023-13"), (3, "Crime type", " "), (4, "Latitude", "'-0.1400"),
                   (4, "Longitude", "51.5400"), (5, "Month", "2023-13"), (5, "Crime type", "")}
    swapped = next(r for r in rows if r["column"] == "Latitude")
    assert swapped["reason"] == 'Latitude "-0.1400" and Longitude "51.5400" are swapped'
    istv = planted["2023-01-rax01-istv.csv"]
    rows = _read_csv(area, f"supplier_feedback/rax01/{istv.load_id}-2023-01-rax01-istv-rejects.csv")
    assert {(int(r["row_number"]), r["column"], r["value"]) for r in rows} == {(2, "Arrival time", "25:10"),
                                                                               (3, "", "")}


def test_the_summary_lists_each_load_and_a_quarantined_files_reason(feedback, planted):
    area, outputs = feedback
    summaries = {o.path for o in outputs if o.kind == "supplier_summary"}
    html_path = f"supplier_feedback/metropolitan/summary-{REFRESH}.html"
    assert {html_path, html_path.replace(".html", ".csv")} <= summaries
    bad = planted["2023-02-metropolitan-street.csv"]
    assert bad.status == "quarantined"
    html = (area.base / html_path).read_text(encoding="utf-8")
    assert "2023-02-metropolitan-street.csv" in html and bad.message in unescape(html)
    table = _read_csv(area, html_path.replace(".html", ".csv"))
    quarantined = [r for r in table if r["file"] == "2023-02-metropolitan-street.csv"]
    assert [(r["status"], r["error"]) for r in quarantined] == [("quarantined", bad.message)]
    street = {r["reason"]: int(r["problems"]) for r in table if r["file"] == "2023-01-metropolitan-street.csv"}
    assert street == {"Month is not a YYYY-MM month": 2, "Crime type is blank": 2,
                      "Latitude and Longitude are swapped": 1}
    assert "Crime type is blank" in html and Path(html_path).name == f"summary-{REFRESH}.html"
