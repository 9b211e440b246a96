"""LFB incident records end to end: synthetic months, the Datastore's cumulative file (republished), the real
sample, rejects with reasons, the privacy boundary and marts.fct_fire_incidents."""
from __future__ import annotations

import csv
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from conftest import REALDATA
from fire_transport import build, ingest_all, truncate_raw
from helpers import data_rows

from safestats.synth import lfb

MONTHS = ("2025-01", "2025-04")          # four months: every dirt variant of the generator
REAL = REALDATA / "lfb" / "tj2904_LFB_Hounslow_2019-2022.csv"
ALL_MARTS = ("fct_fire_incidents", "lfb_incidents_exclusions", "fct_bus_safety_incidents",
             "tfl_bus_safety_incidents_exclusions", "fct_transport_crimes", "tfl_network_crimes_exclusions")


def read_rows(path: Path, encoding: str = "utf-8-sig") -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=encoding, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    return rows[0], rows[1:]


def cumulative_source(tmp: Path) -> tuple[list[str], list[list[str]]]:
    """The rows of the Datastore's cumulative file: the real sample when present, else synthetic months."""
    if REAL.exists():
        return read_rows(REAL)
    paths = lfb.synthesise("2022-01", "2022-03", tmp / "cumulative-source", seed=7, scale=0.03)
    header, rows = None, []
    for p in paths:
        encoding = "cp1252" if lfb._dirt(p.name[:7])["encoding"] == "cp1252" else "utf-8-sig"
        h, r = read_rows(p, encoding)
        at = {name: i for i, name in enumerate(h)}
        header = header or lfb.HEADER
        fixed = {"PumpHoursRoundUp": "PumpMinutesRounded"} if "PumpMinutesRounded" in at else {}
        rows += [[row[at[fixed.get(n, n)]] if fixed.get(n, n) in at else "" for n in lfb.HEADER] for row in r
                 if "BAD" not in row[0]]
    return header, rows


def call_month(value: str) -> str:
    """The month of a DateOfCall as the files write it: `01 Mar 2022` (the Datastore) or `2022-03-01`
    (synthetic months with ISO dates)."""
    if value[:4].isdigit():
        return value[:7]
    day, mon, year = value.split()
    return f"{year}-{lfb.MONTH_ABBR.index(mon) + 1:02d}"


def write_datastore_file(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """As the Datastore publishes it: saved through Excel, so a UTF-8 BOM and CRLF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows([header, *rows])
    return path


@pytest.fixture(scope="module")
def world(cfg, bootstrap, contracts, tmp_path_factory):
    import psycopg

    tmp = tmp_path_factory.mktemp("lfb")
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        truncate_raw(su, contracts)
    monthly = lfb.synthesise(*MONTHS, tmp / "land", scale=0.05)
    header, rows = cumulative_source(tmp)
    months = Counter(call_month(r[1]) for r in rows)
    last_month = max(months)
    # The Datastore republishes cumulatively: v1 lacks the last month, v2 holds every month.
    v1 = write_datastore_file(tmp / "v1" / "LFB Incident data from 2019 onwards.csv", header,
                              [r for r in rows if call_month(r[1]) != last_month])
    v2 = tmp / "v2" / "LFB Incident data from 2019 onwards.csv"
    if REAL.exists():   # the real sample's own bytes, landed under the Datastore's published name
        v2.parent.mkdir()
        shutil.copy(REAL, v2)
    else:
        write_datastore_file(v2, header, rows)
    # A monthly extract of a month the cumulative file also holds: staging takes that month from it alone.
    overlap_month = sorted(months)[len(months) // 2]
    overlap = lfb.synthesise(overlap_month, overlap_month, tmp / "overlap", scale=0.02)
    results = ingest_all(cfg, contracts, [*monthly, v1, v2, *overlap])
    outcome = build(cfg, *ALL_MARTS)
    return {"monthly": results[:len(monthly)], "v1": results[len(monthly)], "v2": results[len(monthly) + 1],
            "overlap": results[-1], "overlap_month": overlap_month, "months": months, "rows": rows,
            "outcome": outcome, "cfg": cfg, "contracts": contracts, "tmp": tmp}


def mart_counts(conn, where="true", params=()):
    return dict(conn.execute(f"select incident_month, count(*) from marts.fct_fire_incidents where {where}"
                             " group by incident_month", params).fetchall())


def excluded(conn, month):
    return conn.execute("select coalesce(sum(excluded_row_count), 0) from quality.lfb_incidents_exclusions"
                        " where period_month = %s", (month,)).fetchone()[0]


def test_synthetic_months_round_trip_into_the_mart(world, superuser):
    for result in world["monthly"]:
        encoding = "cp1252" if lfb._dirt(result.period)["encoding"] == "cp1252" else "utf-8-sig"
        assert result.status == "loaded", result.message
        assert result.rows_read == data_rows(result.path, encoding) == result.rows_loaded + result.rows_rejected
        assert result.rows_rejected == lfb.PLANTED_REJECTS
        month = date(int(result.period[:4]), int(result.period[5:]), 1)
        in_mart = mart_counts(superuser, "incident_month = %s", (month,)).get(month, 0)
        assert in_mart + excluded(superuser, month) == result.rows_loaded
        assert excluded(superuser, month) > 0, "incidents over the border are counted, not lost"


def test_dirty_variants_all_load(world, superuser):
    facts = {r.period: superuser.execute("select encoding, line_ending, extra_columns from raw._loads"
                                         " where load_id = %s", (r.load_id,)).fetchone() for r in world["monthly"]}
    assert {f[0] for f in facts.values()} == {"utf-8-sig", "cp1252", "utf-8"}
    assert {f[1] for f in facts.values()} == {"CRLF", "LF"}
    assert all(f[2] == [] for f in facts.values()), "older header names are contract aliases or columns"
    old = next(p for p in facts if lfb._dirt(p)["old_vintage"])
    month = date(int(old[:4]), int(old[5:]), 1)
    hours = superuser.execute("select min(pump_hours), max(pump_hours) from marts.fct_fire_incidents"
                              " where incident_month = %s", (month,)).fetchone()
    assert hours == (1, 2), "PumpMinutesRounded of the older vintage becomes pump hours"
    ward_codes = superuser.execute("select count(*) filter (where ward_code !~ '^E05[0-9]{6}$'),"
                                   " count(*) filter (where property_type <> btrim(property_type))"
                                   " from marts.fct_fire_incidents").fetchone()
    assert ward_codes == (0, 0)


def test_planted_bad_rows_are_rejected_with_their_reason(world, superuser):
    first = world["monthly"][0]
    reasons = sorted(r[0] for r in superuser.execute(
        "select reason from raw._rejects where load_id = %s", (first.load_id,)))
    assert reasons == [
        'DateOfCall "15 Dec 2024" is not in the file\'s month 2025-01',
        'DateOfCall "31 Feb 2025" is not a date (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)',
        'TimeOfCall "25:61:00" is not a time of day',
    ]


def test_a_republished_cumulative_file_supersedes_the_previous_one_without_double_counting(world, superuser):
    v1, v2 = world["v1"], world["v2"]
    assert v2.superseded == [v1.load_id]
    assert v2.rows_read == len(world["rows"]) == v2.rows_loaded + v2.rows_rejected
    overlap = date(int(world["overlap_month"][:4]), int(world["overlap_month"][5:]), 1)
    counts = mart_counts(superuser, "incident_month < '2025-01-01'")
    for month_text, published in world["months"].items():
        month = date(int(month_text[:4]), int(month_text[5:]), 1)
        staged = counts.get(month, 0) + excluded(superuser, month)
        if month == overlap:
            assert staged == world["overlap"].rows_loaded, "the monthly extract replaces the cumulative month"
        else:
            assert staged == published, f"{month}: counted once, from the newest publication"


@pytest.mark.skipif(not REAL.exists(), reason=f"the real LFB sample is not here: expected {REAL}")
def test_the_real_sample_conserves_every_row(world, superuser):
    with REAL.open(encoding="utf-8-sig", newline="") as fh:
        real_rows = sum(1 for row in csv.reader(fh) if row) - 1
    assert real_rows == 11529
    result = world["v2"]   # the real file, as "LFB Incident data from 2019 onwards.csv"
    assert result.status == "loaded", result.message
    assert result.rows_read == real_rows == result.rows_loaded + result.rows_rejected
    assert result.rows_rejected == 0
    load = superuser.execute("select coverage, period, encoding, line_ending from raw._loads where load_id = %s",
                             (result.load_id,)).fetchone()
    assert load == ("cumulative", None, "utf-8-sig", "CRLF")
    in_mart = superuser.execute(
        "select count(*) from marts.fct_fire_incidents where fire_incident_key in"
        " (select md5(%s::text || '-' || n::text) from generate_series(1, %s) as n)",
        (result.load_id, real_rows)).fetchone()[0]
    overlap = world["months"][world["overlap_month"]]
    assert in_mart == real_rows - overlap, "every real row reaches the mart but the month a monthly file replaces"


def test_categories_follow_the_motive_or_the_stop_code(world, superuser):
    rows = superuser.execute(
        "select incident_group, stop_code_description, fire_motive, incident_category_code, category_basis"
        " from marts.fct_fire_incidents group by 1, 2, 3, 4, 5").fetchall()
    for group, stop, motive, category, basis in rows:
        if group == "Fire" and motive in ("deliberate", "accidental"):
            assert (category, basis) == (f"{motive}_fire", "recorded_motive")
        elif group == "Fire":
            assert category == ("deliberate_fire" if stop == "Secondary Fire" else "accidental_fire")
            assert basis == "stop_code_default"
        else:
            assert category == {"False Alarm": "false_alarm", "Special Service": "special_service"}[group]
    assert {r[3] for r in rows} == {"deliberate_fire", "accidental_fire", "false_alarm", "special_service"}


def test_no_address_postcode_or_point_passes_the_privacy_boundary(world, superuser):
    columns = {r[0] for r in superuser.execute(
        "select column_name from information_schema.columns where table_schema in ('suppressed', 'marts')"
        " and table_name in ('lfb_incidents', 'fct_fire_incidents')")}
    assert not columns & {"postcode_full", "postcode_district", "uprn", "usrn", "address_qualifier", "easting_m",
                          "northing_m", "latitude", "longitude", "incident_number", "call_time"}
    leaked = superuser.execute(
        "select count(*) from marts.fct_fire_incidents f join raw.lfb_incidents r"
        " on f.incident_pseudo_id = r.incident_number").fetchone()[0]
    assert leaked == 0
    assert superuser.execute("select count(*) from marts.fct_fire_incidents where incident_pseudo_id !~"
                             " '^[0-9a-f]{64}$'").fetchone()[0] == 0


def test_synthetic_lfb_files_are_deterministic_and_at_london_volume(tmp_path):
    one = lfb.synthesise("2024-07", "2024-07", tmp_path / "a", seed=5, scale=0.1)[0].read_bytes()
    two = lfb.synthesise("2024-07", "2024-07", tmp_path / "b", seed=5, scale=0.1)[0].read_bytes()
    other = lfb.synthesise("2024-07", "2024-07", tmp_path / "c", seed=6, scale=0.1)[0].read_bytes()
    assert one == two and one != other
    assert 9_000 <= lfb.expected_rows("2024-01") <= 10_000 <= lfb.expected_rows("2024-07") <= 11_500
    with pytest.raises(ValueError, match="scale must be positive"):
        lfb.synthesise("2024-07", "2024-07", tmp_path, scale=0)
