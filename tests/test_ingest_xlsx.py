"""The ingest's XLSX path, cumulative publications and the excel_date type, on the real embedded PostgreSQL."""
from __future__ import annotations

import csv
import dataclasses
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from helpers import write_csv

from safestats.ingest import ingest_file, recognise

BUS_HEADER = ["Year", "Date Of Incident", "Route", "Operator", "Group Name", "Bus Garage", "Borough",
              "Injury Result Description", "Incident Event Type", "Victim Category", "Victims Sex", "Victims Age"]


def bus_row(when=datetime(2025, 1, 1), borough="Southwark", route=1, event="Slip Trip Fall"):
    return [2025, when, route, "London General", "Go-Ahead", "Garage Not Available", borough,
            "Injuries treated on scene", event, "Passenger", "Female", "Adult"]


def write_workbook(path: Path, rows: list[list], *, header=BUS_HEADER, data_sheet="Sheet1", pivot_first=True) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    if pivot_first:
        pivot = wb.create_sheet("Sheet2")
        pivot.append([None, None, None])
        pivot.append(["Count of Incident Event Type", "Route", None])
    data = wb.create_sheet(data_sheet)
    data.append(header + [None])
    for row in rows:
        data.append(row)
    data.append([None] * len(header))          # formatted but empty rows are not rows
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def load_row(conn, load_id):
    return conn.execute("select status, coverage, period, encoding, rows_read, rows_loaded, rows_rejected,"
                        " superseded_by, file_name from raw._loads where load_id = %s", (load_id,)).fetchone()


def test_a_workbook_data_sheet_takes_the_same_checks_as_a_csv(tmp_path, empty_raw, loader, contracts):
    rows = [bus_row(), bus_row(route="N29"), bus_row(when=None), bus_row(when=datetime(2024, 12, 1)),
            bus_row(when=datetime(2025, 1, 1, 14, 30))]
    path = write_workbook(tmp_path / "2025-01-tfl-bus-safety.xlsx", rows)
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    status, coverage, period, encoding, *_, file_name = load_row(empty_raw, result.load_id)
    assert (status, coverage, period, encoding, file_name) == (
        "loaded", "monthly", date(2025, 1, 1), "xlsx", "2025-01-tfl-bus-safety.xlsx")
    reasons = dict(empty_raw.execute("select source_row_number, reason from raw._rejects").fetchall())
    assert reasons == {3: "Date Of Incident is blank",
                       4: "Date Of Incident \"2024-12-01\" is not in the file's month 2025-01"}
    kept = empty_raw.execute("select date_of_incident, route from raw.tfl_bus_safety_incidents"
                             " order by _source_row_number").fetchall()
    # datetimes are written ISO, whole numbers without '.0'
    assert kept == [("2025-01-01", "1"), ("2025-01-01", "N29"), ("2025-01-01T14:30:00", "1")]
    again = ingest_file(loader, path, contracts)
    assert again.status == "skipped" and again.load_id == result.load_id, "the workbook's sha256 is the key"


def test_the_contract_can_name_the_sheet(tmp_path, empty_raw, loader, contracts):
    bus = next(c for c in contracts if c.dataset == "tfl_bus_safety_incidents")
    named = dataclasses.replace(bus, sheet="Data")
    path = write_workbook(tmp_path / "2025-01-tfl-bus-safety.xlsx", [bus_row()], data_sheet="Data")
    assert ingest_file(loader, path, [named]).rows_loaded == 1
    other = write_workbook(tmp_path / "x" / "2025-02-tfl-bus-safety.xlsx", [bus_row(datetime(2025, 2, 1))])
    refused = ingest_file(loader, other, [named])
    assert refused.status == "quarantined" and "no sheet 'Data'" in refused.message


def test_unreadable_and_headerless_workbooks_are_quarantined(tmp_path, empty_raw, loader, contracts):
    junk = tmp_path / "2025-01-tfl-bus-safety.xlsx"
    junk.write_bytes(b"this is not a zip file")
    result = ingest_file(loader, junk, contracts)
    assert result.status == "quarantined" and "not a readable XLSX workbook" in result.message
    wrong = write_workbook(tmp_path / "w" / "2025-02-tfl-bus-safety.xlsx", [[1, 2]], header=["Foo", "Bar"])
    result = ingest_file(loader, wrong, contracts)
    assert result.status == "quarantined" and "no sheet's first row matches" in result.message
    assert empty_raw.execute("select count(*) from raw.tfl_bus_safety_incidents").fetchone()[0] == 0


def test_cumulative_and_monthly_names_are_recognised(contracts):
    lfb = recognise("LFB Incident data from 2018 onwards.csv", contracts)
    assert (lfb.contract.dataset, lfb.agency, lfb.period, lfb.coverage) == ("lfb_incidents", "lfb", None, "cumulative")
    tfl = recognise("TFL Bus Safety.xlsx", contracts)
    assert (tfl.contract.dataset, tfl.agency, tfl.period, tfl.coverage) == (
        "tfl_bus_safety_incidents", "tfl", None, "cumulative")
    monthly = recognise("2025-03-lfb-incidents.csv", contracts)
    assert (monthly.period, monthly.coverage) == ("2025-03", "monthly")
    street = recognise("2019-01-btp-street.csv", contracts)
    assert (street.period, street.coverage) == ("2019-01", "monthly")


def test_a_newer_cumulative_publication_supersedes_the_previous_one_whole(tmp_path, empty_raw, loader, contracts):
    header = BUS_HEADER + [""]
    serial = {date(2015, 1, 1): "42005", date(2015, 2, 1): "42036", date(2015, 3, 1): "42064"}
    first_rows = [["2015", serial[d], "1", "Metroline", "Metroline", "X", "Camden", "Fatal", "Assault",
                   "Passenger", "Male", "Adult", ""] for d in (date(2015, 1, 1), date(2015, 2, 1))]
    second_rows = first_rows + [["2015", serial[date(2015, 3, 1)], "2", "Metroline", "Metroline", "X", "Brent",
                                 "Fatal", "Assault", "Passenger", "Male", "Adult", "0"]]
    monthly = ingest_file(loader, write_workbook(tmp_path / "m" / "2025-01-tfl-bus-safety.xlsx", [bus_row()]),
                          contracts)
    one = ingest_file(loader, write_csv(tmp_path / "v1" / "TFL Bus Safety.csv", header, first_rows), contracts)
    two = ingest_file(loader, write_csv(tmp_path / "v2" / "TFL Bus Safety.csv", header, second_rows), contracts)
    assert (one.status, one.period, two.status) == ("loaded", None, "loaded")
    assert two.superseded == [one.load_id]
    assert load_row(empty_raw, one.load_id)[0] == "superseded"
    assert load_row(empty_raw, two.load_id)[:3] == ("loaded", "cumulative", None)
    assert load_row(empty_raw, monthly.load_id)[0] == "loaded", "a cumulative file never supersedes a monthly one"
    assert two.rows_read == 3 and two.rows_loaded == 3
    # and a monthly file never supersedes the cumulative one
    later = ingest_file(loader, write_workbook(tmp_path / "m2" / "2015-02-tfl-bus-safety.xlsx",
                                              [bus_row(datetime(2015, 2, 1))]), contracts)
    assert later.superseded == [] and load_row(empty_raw, two.load_id)[0] == "loaded"


@pytest.mark.parametrize("text,expected", [
    ("42005", date(2015, 1, 1)), ("43435.75", date(2018, 12, 1)), ("01 Jan 2019", date(2019, 1, 1)),
    ("1 January 2019", date(2019, 1, 1)), ("2019-01-05", date(2019, 1, 5)), ("2019-01-05T13:45:00", date(2019, 1, 5)),
    (" 05/01/2019 ", date(2019, 1, 5)), ("31/12/2019", date(2019, 12, 31)), ("29 Feb 2024", date(2024, 2, 29)),
    ("31/02/2019", None), ("2019-13-01", None), ("29 Feb 2023", None), ("01 Foo 2019", None), ("", None),
    ("60", None), ("12/31/2019", None), ("yesterday", None),
])
def test_excel_date_reads_every_accepted_form_whatever_the_datestyle(superuser, text, expected):
    superuser.execute("set datestyle = 'ISO, MDY'")  # day-first forms must not depend on it
    assert superuser.execute("select raw.excel_date(%s)", (text,)).fetchone()[0] == expected


def test_the_real_tfl_workbook_and_its_csv_conserve_every_row(tmp_path, empty_raw, loader, contracts, realdata):
    from openpyxl import load_workbook

    workbook = realdata / "tfl" / "TFL_Bus_Safety.xlsx"
    sheet_csv = realdata / "tfl" / "DERIVED_TFL_Bus_Safety_data_sheet.csv"
    wb = load_workbook(workbook, read_only=True, data_only=True)
    # the data sheet is the one headed Year, Date Of Incident, ... (a pivot sheet's first row is Year, 2015)
    sheet = next(ws for ws in wb.worksheets if "Date Of Incident" in next(ws.iter_rows(max_row=1, values_only=True)))
    workbook_rows = sum(1 for row in sheet.iter_rows(min_row=2, values_only=True) if any(v is not None for v in row))
    wb.close()
    with sheet_csv.open(encoding="utf-8", newline="") as fh:
        csv_rows = sum(1 for row in csv.reader(fh) if row) - 1
    assert workbook_rows == csv_rows == 23158
    land = tmp_path / "land"
    land.mkdir()
    from_csv = ingest_file(loader, shutil.copy(sheet_csv, land / "TFL Bus Safety.csv"), contracts)
    from_xlsx = ingest_file(loader, shutil.copy(workbook, land / "TFL Bus Safety.xlsx"), contracts)
    for result, expected in ((from_csv, csv_rows), (from_xlsx, workbook_rows)):
        assert result.status == "loaded", result.message
        assert result.rows_read == expected == result.rows_loaded + result.rows_rejected
        assert result.rows_rejected == 0
    assert from_xlsx.superseded == [from_csv.load_id]
    same = empty_raw.execute(
        "select count(*) from raw.tfl_bus_safety_incidents a join raw.tfl_bus_safety_incidents b"
        " on a._source_row_number = b._source_row_number and a._load_id = %s and b._load_id = %s"
        " where raw.excel_date(a.date_of_incident) = raw.excel_date(b.date_of_incident)"
        " and a.borough = b.borough and a.route = b.route", (from_csv.load_id, from_xlsx.load_id)).fetchone()[0]
    assert same == csv_rows, "the workbook and its CSV form give the same rows, dates included"


def test_every_data_sheet_is_loaded_and_a_sheet_that_looks_like_data_but_cannot_load_refuses_the_workbook(
        tmp_path, empty_raw, loader, contracts):
    from openpyxl import Workbook

    def workbook(path, broken: bool):
        wb = Workbook(write_only=True)
        notes = wb.create_sheet("Notes")
        notes.append(["About this file"])
        for title, routes in (("2025 part 1", [1, 2]), ("2025 part 2", [3])):
            sheet = wb.create_sheet(title)
            sheet.append(BUS_HEADER[::-1] if title.endswith("2") else BUS_HEADER)   # any column order
            for route in routes:
                row = bus_row(route=route)
                sheet.append(row[::-1] if title.endswith("2") else row)
        if broken:
            late = wb.create_sheet("Late returns")
            late.append([h for h in BUS_HEADER if h != "Borough"])
            late.append(bus_row()[:6] + bus_row()[7:])
        wb.save(path)
        return path

    good = ingest_file(loader, workbook(tmp_path / "2025-01-tfl-bus-safety.xlsx", False), contracts)
    assert (good.status, good.rows_read, good.rows_loaded) == ("loaded", 3, 3)
    assert "sheets loaded: 2025 part 1, 2025 part 2; left aside (not tfl_bus_safety_incidents data): Notes" \
        in good.message
    routes = [r[0] for r in empty_raw.execute("select route from raw.tfl_bus_safety_incidents"
                                              " order by _source_row_number")]
    assert routes == ["1", "2", "3"]
    refused = ingest_file(loader, workbook(tmp_path / "2025-02-tfl-bus-safety.xlsx", True), contracts)
    assert refused.status == "quarantined"
    assert "sheet(s) 'Late returns' hold tfl_bus_safety_incidents data whose header does not match" \
        in refused.message
