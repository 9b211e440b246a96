"""ISTV A&E assault attendances: every site-month file round-trips into the mart, late and missed
submissions show in fct_ed_site_submissions, free text never passes the privacy boundary, dirty files
load and bad rows are rejected with reasons."""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import psycopg
import pytest
from health_helpers import build_health, cells_matching, empty_raw, scanned_columns
from helpers import write_csv

from safestats import warehouse
from safestats.ingest import ingest_file, landing_files
from safestats.sniff import sniff
from safestats.synth import istv

MONTHS = ("2025-01", "2025-02")
SCALE = 0.5
FREE_TEXT = ("Assault method other description", "Assault location description")
# a hand-made file of an earlier month: one row of another site (excluded and counted)
MISMATCH_FILE = "2024-10-rkeq4-istv.csv"


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file's rows keyed by the current header names (old-vintage headers mapped)."""
    encoding = sniff(path, "").encoding
    with path.open(encoding=encoding, newline="") as fh:
        rows = list(csv.reader(fh))
    header = istv.HEADER if rows[0][0].lstrip("\ufeff") in ("Site code", "Provider site code") else None
    assert header, rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


@pytest.fixture(scope="module")
def built(cfg, bootstrap, contracts, tmp_path_factory):
    """The files arriving in two synthetic months (December's late ones among them; February's late ones
    have not arrived yet) ingested from the landing folder, plus one hand-made file, and built.
    Returns {file name: (result, landing folder, rows)}."""
    out = tmp_path_factory.mktemp("istv-landing")
    istv.synthesise(MONTHS[0], MONTHS[-1], out, scale=SCALE)
    row = ["RAL01", "2024-10-01", "2024-10-31", "2024-10-24", "23:10", "2024-10-24", "22:00", "01", "", "02",
           "Somewhere else " + istv.FREE_TEXT_MARKER]
    ok = ["RKEQ4"] + row[1:]
    write_csv(out / "2024-10" / MISMATCH_FILE, istv.HEADER, [ok, row])
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        empty_raw(su, contracts)
    files = {}
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        for path in landing_files(out):
            result = ingest_file(loader, path, contracts)
            assert result.status == "loaded", result.message
            files[path.name] = (result, path.parent.name, read_rows(path))
    build_health(cfg)
    return files


@pytest.fixture
def db(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


def synthetic(built):
    return {name: v for name, v in built.items() if name != MISMATCH_FILE}


def test_each_site_month_round_trips_into_the_mart(built, db):
    files = synthetic(built)
    assert 40 <= len(files) <= 56
    for name, (result, _, rows) in files.items():
        site, month = name[8:-9].upper(), name[:7]
        planted = sum(1 for r in rows if r["Arrival time"].strip() == istv.BAD_ARRIVAL_TIME)
        assert (result.rows_read, result.rows_rejected) == (len(rows), planted), name
        loads = db.execute("select rows_read, rows_loaded, rows_rejected from raw._loads where load_id = %s",
                           (result.load_id,)).fetchone()
        raw = db.execute("select count(*) from raw.istv_assault_attendances where _load_id = %s",
                         (result.load_id,)).fetchone()[0]
        assert loads == (len(rows), raw, planted) and loads[0] == loads[1] + loads[2]
        mart = db.execute("select count(*) from marts.fct_ed_assault_attendances where site_code = %s"
                          " and incident_month = %s", (site, first_day(month))).fetchone()[0]
        assert mart == len(rows) - planted, name
    assert sum(r.rows_rejected for r, _, _ in files.values()) > 0  # some files carry a planted bad row


def test_a_row_of_another_site_is_counted_as_excluded(built, db):
    assert db.execute("select agency, period_month, reason, excluded_row_count from"
                      " quality.istv_assault_attendances_exclusions").fetchall() == [
        ("rkeq4", date(2024, 10, 1), "site_code_mismatch", 1)]
    assert db.execute("select count(*) from marts.fct_ed_assault_attendances where incident_month = '2024-10-01'"
                      ).fetchone()[0] == 1


def test_late_and_missed_submissions_show(built, db):
    files = synthetic(built)
    expected = {}
    for site in istv.SITES:
        for month in MONTHS:
            name = f"{month}-{site.lower()}-istv.csv"
            if name not in files:
                expected[(site, first_day(month))] = (False, False, 0, 0)
            else:
                result, folder, _ = files[name]
                expected[(site, first_day(month))] = (True, folder != month, result.rows_loaded, result.rows_rejected)
    assert {v[:2] for v in expected.values()} >= {(True, True), (True, False)}
    got = {(r[0], r[1]): r[2:] for r in db.execute(
        "select site_code, submission_month, submitted, arrived_late, rows_loaded, rows_rejected"
        " from marts.fct_ed_site_submissions where submission_month >= '2025-01-01'").fetchall()}
    assert got == expected
    # the spine runs from the first month any site submitted (the hand-made October file) for every site
    october = db.execute("select site_code from marts.fct_ed_site_submissions"
                         " where submission_month = '2024-10-01' and submitted").fetchall()
    assert october == [("RKEQ4",)]
    assert db.execute("select count(*) from marts.fct_ed_site_submissions").fetchone()[0] == 28 * 5
    # December's late files came in January's folder: late; nobody sent November
    late_december = db.execute("select count(*) from marts.fct_ed_site_submissions"
                               " where submission_month = '2024-12-01' and submitted and arrived_late").fetchone()[0]
    assert late_december == sum(1 for n in files if n.startswith("2024-12")) > 0
    assert db.execute("select count(*) from marts.fct_ed_site_submissions"
                      " where submission_month = '2024-11-01' and submitted").fetchone()[0] == 0


def test_synthetic_months_have_late_and_missed_sites():
    statuses = [istv.submission(site, f"2025-{m:02d}") for site in istv.SITES for m in range(1, 13)]
    assert statuses.count("late") > 12 and statuses.count("missed") >= 4


def test_no_free_text_past_the_privacy_boundary(built, db):
    texts = {r[c].strip() for _, _, rows in built.values() for r in rows for c in FREE_TEXT
             if r[c].strip() and r["Arrival time"].strip() != istv.BAD_ARRIVAL_TIME}
    assert len(texts) > 20 and any("£" in t for t in texts) and any("é" in t for t in texts)
    raw = {r[0] for r in db.execute(
        "select btrim(location_description) from raw.istv_assault_attendances where btrim(location_description) <> ''"
        " union select btrim(assault_method_other) from raw.istv_assault_attendances"
        " where btrim(assault_method_other) <> ''").fetchall()}
    assert texts <= raw | {""}  # the Windows-1252 files' £ and é arrived intact
    assert cells_matching(db, sorted(raw), contains=istv.FREE_TEXT_MARKER) == []
    for schema, table, column, data_type in scanned_columns(db):
        assert column not in ("assault_method_other", "location_description"), f"{schema}.{table}.{column}"
        if table in ("istv_assault_attendances", "fct_ed_assault_attendances"):
            assert column != "source_row_number", f"{schema}.{table}: no row identifier but the pseudonymous key"
            assert "time" not in data_type, f"{schema}.{table}.{column} is {data_type}: times go no finer than the hour"


def test_the_marts_have_the_promised_columns(built, db):
    columns = {}
    for schema, table, column, _ in scanned_columns(db):
        columns.setdefault(table, []).append(column)
    assert columns["fct_ed_assault_attendances"] == [
        "attendance_key", "incident_month", "arrival_date", "arrival_hour", "assault_hour", "site_code", "site_name",
        "trust_code", "borough_code", "assault_method_code", "location_type_code", "assault_method", "location_type",
        "incident_category_code"]
    sites = db.execute("select site_code, trust_code, trust_name, borough_code from marts.dim_hospital_site"
                       " where trust_code = 'RKE'").fetchall()
    assert sites == [("RKEQ4", "RKE", "Whittington Health NHS Trust", "E09000019")]
    assert db.execute("select count(*) from marts.dim_hospital_site").fetchone()[0] == 28
    knives = db.execute("select distinct incident_category_code from marts.fct_ed_assault_attendances"
                        " where assault_method_code in ('03', '04')").fetchall()
    assert knives == [("knife_or_sharp_instrument",)]


def test_dirty_files_load(built, db):
    loads = db.execute("select encoding, line_ending, extra_columns from raw._loads"
                       " where dataset = 'istv_assault_attendances'").fetchall()
    assert {e for e, _, _ in loads} == {"utf-8", "utf-8-sig", "cp1252"}
    assert {le for _, le, _ in loads} == {"LF", "CRLF"}
    assert all(extra == [] for _, _, extra in loads)  # the old-vintage header maps through the aliases
    old = [n for n, (_, _, _) in built.items() if n[8:13].upper() in ("RF4QH", "RF4DG", "RAX01")]
    assert old and all(built[n][0].rows_loaded > 0 for n in old)
    # codes written without the leading zero ("1") and padded values ("01 ") are the two-digit codes
    assert db.execute("select count(*) from marts.fct_ed_assault_attendances where site_code in ('RYJ02', 'RJ611')"
                      " and (assault_method = 'Not known' and assault_method_code <> '99')").fetchone()[0] == 0


def test_bad_rows_are_rejected_with_reasons(built, db, cfg, contracts, tmp_path):
    good = ["RKEQ4", "2024-11-01", "2024-11-30", "2024-11-02", "01:30", "", "", "1", "", "1", "Caf\u00e9 £"]
    bad = ["RKEQ4", "2024-11-01", "2024-11-30", "", istv.BAD_ARRIVAL_TIME, "2024-11-31", "", "", "", "01", ""]
    path = write_csv(tmp_path / "2024-11-rkeq4-istv.csv", istv.OLD_HEADER, [good, bad], encoding="cp1252",
                     newline="\r\n", bom=False)
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        result = ingest_file(loader, path, contracts)
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    reason, record = db.execute("select reason, record from raw._rejects where load_id = %s",
                                (result.load_id,)).fetchone()
    assert reason == ('Arrival date is blank; Arrival time "25:10" is not a time of day; '
                      'Assault date "2024-11-31" is not a date (YYYY-MM-DD, DD Mon YYYY or DD/MM/YYYY); '
                      'Assault method is blank')
    assert record["Arrival time"] == "25:10" and record["Arrival date"] is None


def test_synthetic_month_is_deterministic_and_calibrated(tmp_path):
    arrived = sorted(istv.synthesise("2025-07", "2025-08", tmp_path / "a"))
    again = sorted(istv.synthesise("2025-07", "2025-07", tmp_path / "b") + istv.synthesise("2025-08", "2025-08",
                                                                                        tmp_path / "b"))
    assert [p.read_bytes() for p in arrived] == [p.read_bytes() for p in again]  # month by month = one range
    assert {p.parent.name for p in arrived if p.name.startswith("2025-07")} == {"2025-07", "2025-08"}  # late ones
    first = [p for p in arrived if p.name.startswith("2025-07")]
    rows = [r for p in first for r in read_rows(p)]
    assert 1_900 <= len(rows) <= 2_600  # ~2,000 a month over 28 sites, July above the average
    by_site = {p.name[8:13].upper(): len(read_rows(p)) for p in first}
    assert by_site.get("R1H12", 0) > by_site.get("RP601", 0)  # the Royal London is busier than Moorfields
    hours = [int(r["Arrival time"][:2]) for r in rows if r["Arrival time"].strip() != istv.BAD_ARRIVAL_TIME]
    assert sum(h in (22, 23, 0, 1) for h in hours) > 3 * sum(h in (6, 7, 8, 9) for h in hours)
