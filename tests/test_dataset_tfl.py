"""TfL end to end: bus safety (monthly workbooks and CSVs, TfL's cumulative workbook and CSV, republished)
and crime on the TfL network, into marts.fct_bus_safety_incidents and marts.fct_transport_crimes."""
from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest
from conftest import REALDATA
from fire_transport import build, ingest_all, truncate_raw
from helpers import data_rows

from safestats.synth import london, tfl

MONTHS = ("2025-01", "2025-02")          # January as a workbook, February as TfL's CSV form
REAL_XLSX = REALDATA / "tfl" / "TFL_Bus_Safety.xlsx"
REAL_CSV = REALDATA / "tfl" / "DERIVED_TFL_Bus_Safety_data_sheet.csv"
ALL_MARTS = ("fct_fire_incidents", "lfb_incidents_exclusions", "fct_bus_safety_incidents",
             "tfl_bus_safety_incidents_exclusions", "fct_transport_crimes", "tfl_network_crimes_exclusions")
CUMULATIVE_HEADER = tfl.BUS_HEADER + [""]


def synthetic_cumulative(tmp: Path) -> list[list[str]]:
    """TfL's cumulative CSV form made from synthetic 2018 months (used when the real files are absent)."""
    rows = []
    for month in ("2018-01", "2018-02", "2018-03"):
        for row in tfl._bus_rows(month, 11, 0.2):
            rows.append([str(row[0]), str(tfl._serial(row[1].date())), *map(str, row[2:]), ""])
    return rows


def month_of(cell: str) -> date:
    d = date(1899, 12, 30).toordinal() + int(cell)
    first = date.fromordinal(d)
    return first.replace(day=1)


@pytest.fixture(scope="module")
def world(cfg, bootstrap, contracts, tmp_path_factory):
    import psycopg

    tmp = tmp_path_factory.mktemp("tfl")
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        truncate_raw(su, contracts)
    monthly = tfl.synthesise(*MONTHS, tmp / "land", scale=0.5)
    # TfL republishes the whole workbook: v1 (CSV form) lacks the last month, v2 is the full publication.
    if REAL_CSV.exists():
        with REAL_CSV.open(encoding="utf-8", newline="") as fh:
            rows = [r for r in csv.reader(fh) if r][1:]
    else:
        rows = synthetic_cumulative(tmp)
    last = max(month_of(r[1]) for r in rows)
    v1 = tmp / "v1" / "TFL Bus Safety.csv"
    v1.parent.mkdir()
    with v1.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([CUMULATIVE_HEADER, *[r for r in rows if month_of(r[1]) != last]])
    v2 = tmp / "v2" / "TFL Bus Safety.xlsx"
    v2.parent.mkdir()
    if REAL_XLSX.exists():
        shutil.copy(REAL_XLSX, v2)                 # the real workbook under TfL's published name
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Sheet1")
        ws.append(CUMULATIVE_HEADER)
        for r in rows:
            ws.append([int(r[0]), int(r[1]), *r[2:12]])
        wb.save(v2)
    results = ingest_all(cfg, contracts, [*monthly, v1, v2])
    outcome = build(cfg, *ALL_MARTS)
    return {"monthly": results[:len(monthly)], "v1": results[-2], "v2": results[-1], "rows": rows,
            "last": last, "outcome": outcome}


def by_kind(world, kind):
    return [r for r in world["monthly"] if kind in r.path.name]


def test_synthetic_bus_safety_months_round_trip(world, superuser):
    results = by_kind(world, "bus-safety")
    assert {r.path.suffix for r in results} == {".xlsx", ".csv"}
    for result in results:
        assert result.status == "loaded", result.message
        assert result.rows_read == result.rows_loaded + result.rows_rejected
        assert result.rows_rejected == tfl.BUS_PLANTED_REJECTS
        if result.path.suffix == ".csv":
            assert result.rows_read == data_rows(result.path, "utf-8")
        month = date(int(result.period[:4]), int(result.period[5:]), 1)
        in_mart = superuser.execute("select count(*) from marts.fct_bus_safety_incidents where incident_month = %s",
                                    (month,)).fetchone()[0]
        excluded = dict(superuser.execute(
            "select reason, excluded_row_count from quality.tfl_bus_safety_incidents_exclusions"
            " where period_month = %s", (month,)).fetchall())
        assert in_mart + sum(excluded.values()) == result.rows_loaded
        assert set(excluded) <= {"not_a_london_borough", "not_specified"} and excluded


def test_network_crime_months_round_trip(world, superuser):
    for result in by_kind(world, "network-crimes"):
        assert result.status == "loaded", result.message
        encoding = "cp1252" if london.month_index(result.period) % 2 else "utf-8-sig"
        assert result.rows_read == data_rows(result.path, encoding) == result.rows_loaded + result.rows_rejected
        assert result.rows_rejected == tfl.CRIME_PLANTED_REJECTS
        month = date(int(result.period[:4]), int(result.period[5:]), 1)
        in_mart = superuser.execute("select count(*) from marts.fct_transport_crimes where incident_month = %s",
                                    (month,)).fetchone()[0]
        excluded = superuser.execute("select coalesce(sum(excluded_row_count), 0) from"
                                     " quality.tfl_network_crimes_exclusions where period_month = %s",
                                     (month,)).fetchone()[0]
        assert in_mart + excluded == result.rows_loaded


def test_bad_rows_are_rejected_with_their_reason(world, superuser):
    reasons = sorted(r[0] for r in superuser.execute(
        "select r.reason from raw._rejects r join raw._loads l using (load_id)"
        " where l.file_name in ('2025-01-tfl-bus-safety.xlsx', '2025-01-tfl-network-crimes.csv')"))
    assert reasons == [
        "Date Of Incident \"2024-01-01\" is not in the file's month 2025-01",
        "Date Of Incident is blank",
        "Mode is blank",
        'Offence Date "2025-13-01" is not a date (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)',
    ]


def test_the_cumulative_workbook_supersedes_its_earlier_csv_without_double_counting(world, superuser):
    v1, v2 = world["v1"], world["v2"]
    assert v1.status == v2.status == "loaded", (v1.message, v2.message)
    assert v2.superseded == [v1.load_id]
    assert v2.rows_read == len(world["rows"]) == v2.rows_loaded + v2.rows_rejected
    staged = superuser.execute(
        "select (select count(*) from marts.fct_bus_safety_incidents where incident_month < '2025-01-01')"
        " + (select coalesce(sum(excluded_row_count), 0) from quality.tfl_bus_safety_incidents_exclusions"
        " where period_month < '2025-01-01')").fetchone()[0]
    assert staged == len(world["rows"]), "each published row once, from the newest publication"


@pytest.mark.skipif(not REAL_XLSX.exists(), reason=f"the real TfL workbook is not here: expected {REAL_XLSX}")
def test_the_real_workbook_places_every_london_borough_name(world, superuser):
    # counted independently of the ingest in test_ingest_xlsx.py
    assert world["v2"].rows_read == 23158 and world["v2"].rows_rejected == 0
    boroughs = superuser.execute("select count(distinct borough_code) from marts.fct_bus_safety_incidents"
                                 " where incident_month < '2025-01-01'").fetchone()[0]
    assert boroughs == 33, "'Hammersmith & Fulham', 'Richmond Upon Thames' and the like all find their borough"
    excluded = dict(superuser.execute(
        "select reason, sum(excluded_row_count)::int from quality.tfl_bus_safety_incidents_exclusions"
        " where period_month < '2025-01-01' group by reason").fetchall())
    assert excluded == {"not_a_london_borough": 561, "not_specified": 553}


def test_event_types_map_to_the_taxonomy(world, superuser):
    mapping = dict(superuser.execute(
        "select incident_event_type, incident_category_code from marts.fct_bus_safety_incidents group by 1, 2"
    ).fetchall())
    assert mapping["Collision Incident"] == "road_traffic_collision"
    assert mapping["Slip Trip Fall"] == "slip_trip_fall"
    assert mapping["Assault"] == "violence_with_injury"
    assert "other" not in mapping.values()
    ages = {r[0] for r in superuser.execute("select distinct victim_age_group from marts.fct_bus_safety_incidents")}
    assert ages <= {"Child", "Youth", "Adult", "Elderly", "Unknown"}


def test_transport_crime_hubs_can_be_found(world, superuser):
    top = superuser.execute(
        "select mode, route_or_station, count(*) from marts.fct_transport_crimes group by 1, 2"
        " order by 3 desc limit 1").fetchone()
    assert top[:2] == ("Underground", "Oxford Circus")
    modes = {r[0] for r in superuser.execute("select distinct mode from marts.fct_transport_crimes")}
    assert modes == {"Bus", "Underground", "Overground", "DLR", "Tram", "Elizabeth line"}
    trailing = superuser.execute("select count(*) from marts.fct_transport_crimes"
                                 " where route_or_station <> btrim(route_or_station)").fetchone()[0]
    assert trailing == 0
    outside = superuser.execute("select count(*) from marts.fct_transport_crimes where route_or_station in"
                                " ('Epping', 'Chesham', 'Shenfield', 'Watford Junction')").fetchone()[0]
    assert outside == 0, "stations outside London are counted as exclusions"


def test_synthetic_tfl_files_are_deterministic(tmp_path):
    one = [p.read_bytes() for p in tfl.synthesise("2024-01", "2024-02", tmp_path / "a", seed=5, scale=0.2)]
    two = [p.read_bytes() for p in tfl.synthesise("2024-01", "2024-02", tmp_path / "b", seed=5, scale=0.2)]
    assert one == two
    crimes = tfl._crime_rows("2024-06", 42, 1.0)
    assert 2_700 <= len(crimes) <= 3_300
    assert 400 <= len(tfl._bus_rows("2024-06", 42, 1.0)) <= 600
