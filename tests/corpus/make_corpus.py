"""Regenerate the broken-extract corpus (tests/corpus/<case>/) from the clean bases in tests/corpus/bases/.

    .venv/bin/python tests/corpus/make_corpus.py           # every case again, from the committed bases
    .venv/bin/python tests/corpus/make_corpus.py --bases   # the bases again, from `safestats synth` (seed 42)

Each case is one function below: its docstring is the case's `why`, its body the damage. Row counts and
the rejected rows of expected.yml come from how the file was built (one record per row written), never from
parsing it back, so the corpus checks the ingest's counting rather than repeating it. Everything is
deterministic: fixed gzip/zip timestamps, fixed workbook properties.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import re
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable

import yaml

HERE = Path(__file__).resolve().parent
BASES = HERE / "bases"
ZIP_TIME = (2024, 2, 1, 0, 0, 0)

# base key -> (synth generator, month, file the generator writes, raw table, rows kept)
BASE_SOURCES = {
    "street": ("police_uk", "2024-01", "2024-01-metropolitan-street.csv", "police_uk_street_crimes", 20),
    "city-street": ("police_uk", "2024-01", "2024-01-city-of-london-street.csv", "police_uk_street_crimes", 8),
    "btp-street": ("police_uk", "2024-01", "2024-01-btp-street.csv", "police_uk_street_crimes", 12),
    "outcomes": ("police_uk", "2024-01", "2024-01-metropolitan-outcomes.csv", "police_uk_crime_outcomes", 16),
    "victims": ("mps", "2024-06", "2024-06-metropolitan-victims.csv", "mps_crime_victims", 15),
    "perpetrators": ("mps", "2024-06", "2024-06-metropolitan-perpetrators.csv", "mps_crime_perpetrators", 12),
    "recorded-outcomes": ("mps", "2024-06", "2024-06-metropolitan-recorded-outcomes.csv",
                          "mps_recorded_crime_outcomes", 15),
    "asb": ("mps", "2024-06", "2024-06-metropolitan-asb.csv", "mps_asb_incidents", 20),
    "las": ("las", "2024-09", "2024-09-las-violence-dispatches.csv", "las_violence_dispatches", 20),
    "lfb": ("lfb", "2024-11", "2024-11-lfb-incidents.csv", "lfb_incidents", 15),
    "network": ("tfl", "2025-02", "2025-02-tfl-network-crimes.csv", "tfl_network_crimes", 20),
    "bus": ("tfl", "2025-02", "2025-02-tfl-bus-safety.csv", "tfl_bus_safety_incidents", 14),
    "istv": ("istv", "2025-04", "2025-04-r1h12-istv.csv", "istv_assault_attendances", 15),
    "istv-rj122": ("istv", "2025-04", "2025-04-rj122-istv.csv", "istv_assault_attendances", 6),
    "istv-rj611": ("istv", "2025-04", "2025-04-rj611-istv.csv", "istv_assault_attendances", 6),
    "ons": ("ons", "2024-12", "2019-12-ons-lsoa-ward-lookup.csv", "ons_lsoa_ward_lookup", 15),
}
# The ONS lookup is published per boundary vintage: the base is the December 2024 one (LSOA 2021, 2024 wards).
ONS_FILE = "2024-12-ons-lsoa-ward-lookup.csv"
ONS_HEADER = ["FID", "LSOA21CD", "LSOA21NM", "WD24CD", "WD24NM", "LAD24CD", "LAD24NM"]


# ---------------------------------------------------------------------------------------------------------
# Bases
# ---------------------------------------------------------------------------------------------------------

def base_path(key: str) -> Path:
    _, _, name, _, _ = BASE_SOURCES[key]
    name = ONS_FILE if key == "ons" else name
    return BASES / Path(name).with_suffix(".csv").name


def _clean(contract, header: list[str], row: list[str], period: str) -> bool:
    """A row every contract check passes, judged here without the database (so the bases stay clean)."""
    if len(row) != len(header) or any(c in v for v in row for c in '"\r\n'):
        return False
    match = contract.match_header(header)
    for name, i in match.positions.items():
        col, value = contract.column(name), row[i].strip()
        if not value:
            if col.not_blank:
                return False
            continue
        if not value.isascii():
            return False
        if col.type == "integer" and not value.isdigit():
            return False
        if col.type in ("latitude", "longitude"):
            low, high = (49.8, 60.9) if col.type == "latitude" else (-8.7, 1.8)
            try:
                if not low <= float(value) <= high:
                    return False
            except ValueError:
                return False
        if col.type == "month" and name == contract.period_column and value != period:
            return False
        if col.type == "date" and not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and value <= date.today().isoformat()):
            return False
        if col.type == "excel_date" and name == contract.period_column:
            if re.fullmatch(r"\d{2}/\d{2}/\d{4}", value):   # day first
                value = f"{value[6:]}-{value[3:5]}-{value[:2]}"
            if re.fullmatch(r"\d{5}", value):
                value = date.fromordinal(date(1899, 12, 30).toordinal() + int(value)).isoformat()
            if not value.startswith(period):
                return False
    return True


def make_bases() -> None:
    """Take the first clean rows of each synthetic extract (synth deliberately writes some dirty ones)."""
    from openpyxl import load_workbook

    from safestats.contracts import load_contracts
    from safestats.synth import synthesise
    from safestats.workbook import cell_text

    contracts = {c.dataset: c for c in load_contracts(HERE.parents[1] / "models")}
    BASES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        done = set()
        for generator, month, *_ in BASE_SOURCES.values():
            if (generator, month) not in done:
                synthesise(month, month, Path(scratch) / f"{generator}-{month}", only=[generator], seed=42)
                done.add((generator, month))
        for key, (generator, month, name, dataset, keep) in BASE_SOURCES.items():
            path = next((Path(scratch) / f"{generator}-{month}").rglob(name))
            if path.suffix == ".xlsx":
                wb = load_workbook(path, read_only=True, data_only=True)
                sheet = next(ws for ws in wb.worksheets if ws.max_row and ws.max_row > 2)
                table = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
                wb.close()
            else:
                raw = path.read_bytes()
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:   # synth writes some files in Windows-1252, as agencies do
                    text = raw.decode("cp1252")
                table = list(csv.reader(io.StringIO(text, newline="")))
            keep_cols = [i for i, h in enumerate(table[0]) if h.strip()]   # drop a stray unnamed column
            table = [[r[i] for i in keep_cols if i < len(r)] for r in table]
            header, rows = table[0], [r for r in table[1:] if any(r)]
            period = ONS_FILE[:7] if key == "ons" else month
            if key == "ons":
                header = ONS_HEADER
            rows = [r for r in rows if _clean(contracts[dataset], header, r, period)][:keep]
            if len(rows) < keep:
                raise SystemExit(f"{name}: only {len(rows)} clean rows, wanted {keep}")
            with base_path(key).open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerows([header, *rows])
            print(f"base {base_path(key).name}: {len(rows)} rows")


# ---------------------------------------------------------------------------------------------------------
# Building a damaged extract
# ---------------------------------------------------------------------------------------------------------

def csv_line(fields: list[str], delimiter: str = ",") -> str:
    out = io.StringIO()
    # "\n" as the terminator (then dropped) so that a field holding a line break is quoted
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(fields)
    return out.getvalue()[:-1]


@dataclass
class Extract:
    """One file as it will land: a header, one record per row, and what the ingest must make of each row."""
    file: str
    dataset: str
    header: list[str]
    rows: list[list[str]]
    lines: dict[int, str | bytes] = field(default_factory=dict)   # row -> its line exactly as written
    rejected: dict[int, str] = field(default_factory=dict)        # row -> substring of the reject reason
    loaded_values: dict[int, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def base(cls, key: str, file: str | None = None, rows: int | None = None) -> "Extract":
        table = list(csv.reader(io.StringIO(base_path(key).read_text(encoding="utf-8"), newline="")))
        dataset = BASE_SOURCES[key][3]
        return cls(file or base_path(key).name, dataset, table[0], [list(r) for r in table[1:rows and rows + 1]])

    def col(self, header: str) -> int:
        return self.header.index(header)

    def get(self, row: int, header: str) -> str:
        return self.rows[row - 1][self.col(header)]

    def set(self, row: int, header: str, value: str, reject: str | None = None) -> "Extract":
        self.rows[row - 1][self.col(header)] = value
        if reject:
            self.rejected[row] = reject
        return self

    def set_all(self, header: str, value: str) -> "Extract":
        for r in self.rows:
            r[self.col(header)] = value
        return self

    def unquoted(self, row: int, header: str, value: str, reject: str | None = None) -> "Extract":
        """The row written by joining its fields with commas, the value as it is (no CSV quoting)."""
        fields = list(self.rows[row - 1])
        fields[self.col(header)] = value
        assert all(',' not in f and '"' not in f for i, f in enumerate(fields) if i != self.col(header)), row
        self.rows[row - 1] = fields
        self.lines[row] = ",".join(fields)
        if reject:
            self.rejected[row] = reject
        return self

    def line(self, row: int, text: str | bytes, reject: str | None = None) -> "Extract":
        self.lines[row] = text
        if reject:
            self.rejected[row] = reject
        return self

    def loaded(self, row: int, **values: str) -> "Extract":
        self.loaded_values[row] = values
        return self

    def rows_with(self, header: str, test: Callable[[str], bool] = bool) -> list[int]:
        return [n for n, r in enumerate(self.rows, 1) if test(r[self.col(header)])]

    def records(self, delimiter: str = ",") -> list[str | bytes]:
        return [self.lines.get(n, csv_line(r, delimiter)) for n, r in enumerate(self.rows, 1)]

    def to_bytes(self, *, encoding: str = "utf-8", newline: str = "\n", bom: bool = False, delimiter: str = ",",
                 blank_after: tuple[int, ...] = (), trailing_blank_lines: int = 0) -> bytes:
        out = [csv_line(self.header, delimiter)]
        for n, record in enumerate(self.records(delimiter), 1):
            out.append(record)
            out += [""] * (n in blank_after)
        out += [""] * trailing_blank_lines
        if encoding.startswith("utf-16"):
            assert not any(isinstance(r, bytes) for r in out)
            return newline.join(out).encode(encoding) + newline.encode(encoding)[2:]
        data = newline.encode().join(r if isinstance(r, bytes) else r.encode(encoding) for r in out)
        return (b"\xef\xbb\xbf" if bom else b"") + data + newline.encode()

    def expected(self, file: str | None = None) -> dict:
        read = len(self.rows)
        doc = {"file": file or self.file, "dataset": self.dataset, "status": "loaded", "rows_read": read,
               "rows_loaded": read - len(self.rejected), "rows_rejected": len(self.rejected)}
        if self.rejected:
            doc["rejected_rows"] = dict(sorted(self.rejected.items()))
        if self.loaded_values:
            doc["loaded_values"] = dict(sorted(self.loaded_values.items()))
        return doc


def quarantined(file: str, dataset: str | None, message: str) -> dict:
    doc = {"file": file}
    if dataset:
        doc["dataset"] = dataset
    doc.update(status="quarantined", message=message)
    return doc


@dataclass
class Landed:
    """What a case puts in its folder and what the ingest must do with each file (or archive member)."""
    files: dict[str, bytes]
    expected: list[dict]
    members: tuple[str, ...] = ()     # names that come out of an archive: unique across the corpus


def landed(extract: Extract, data: bytes | None = None, **encoding) -> Landed:
    return Landed({extract.file: data if data is not None else extract.to_bytes(**encoding)}, [extract.expected()])


def swap_coordinates(e: Extract, row: int) -> None:
    lat, lon = e.get(row, "Latitude"), e.get(row, "Longitude")
    e.set(row, "Latitude", lon).set(row, "Longitude", lat, reject="swapped")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def workbook(sheets: dict[str, list[list]]) -> bytes:
    """An XLSX file, byte-for-byte the same on every run (openpyxl stamps the save time: it is replaced)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", b"2025-03-03T09:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def excel_cells(header: list[str], row: list[str]) -> list:
    """A base row as a spreadsheet holds it: numbers as numbers, dates as dates, blanks empty."""
    cells = []
    for h, v in zip(header, row):
        if v == "":
            cells.append(None)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) and h.startswith("Date"):
            cells.append(datetime.fromisoformat(v))
        elif re.fullmatch(r"\d+", v) and h not in ("Route", "IncidentNumber", "Postcode_full"):
            cells.append(int(v))
        else:
            cells.append(v)
    return cells


def png_bytes() -> bytes:
    """A real 2x2 PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff\x00" * 2)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def jpeg_bytes() -> bytes:
    """The opening of a JPEG photo (JFIF header, quantisation table) and its end marker."""
    table = bytes(range(1, 65))
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + b"\xff\xdb\x00\x43\x00" + table + b"\xff\xc0\x00\x11\x08\x00\x02\x00\x02\x03\x01\x22\x00"
            + b"\x02\x11\x01\x03\x11\x01\xff\xd9")


# ---------------------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------------------

CASES: dict[str, Callable[[], Landed]] = {}


def case(fn: Callable[[], Landed]) -> Callable[[], Landed]:
    CASES[fn.__name__.replace("_", "-")] = fn
    return fn


# --- police.uk street -------------------------------------------------------------------------------------

@case
def street_stray_quote_in_location():
    """A stray double quote inside an unquoted Location (O"Brien) is data, not the start of a quoted field."""
    e = Extract.base("street")
    e.unquoted(4, "Location", 'On or near O"Brien Road').loaded(4, location='On or near O"Brien Road')
    typo = 'On or near Shepherd"s Bush Green'
    e.unquoted(13, "Location", typo).loaded(13, location=typo)
    return landed(e)


@case
def street_unbalanced_quote():
    """A Location opens a quoted field that never closes: that line alone is rejected, the lines after it load."""
    e = Extract.base("street")
    e.unquoted(7, "Location", '"On or near High Street', reject="quote")
    return landed(e)


@case
def street_unquoted_comma_adds_a_field():
    """Two rows carry a comma in an unquoted field, so they have 13 fields against the header's 12."""
    e = Extract.base("street")
    e.unquoted(5, "Location", "On or near Station Road, Ilford", reject="fields")
    e.unquoted(12, "Context", "Suspect left, no trace", reject="fields")
    return landed(e)


@case
def street_truncated_rows():
    """Two rows are cut short (8 fields, then 1), as when an export is interrupted mid-line."""
    e = Extract.base("street")
    e.line(9, csv_line(e.rows[8][:8]), reject="fields")
    e.line(15, e.rows[14][0], reject="fields")
    return landed(e)


@case
def street_coordinates_swapped_and_outside_uk():
    """One row has latitude and longitude swapped; another points at Paris, outside the UK's box."""
    e = Extract.base("street")
    swap_coordinates(e, 3)
    e.set(8, "Latitude", "48.858370").set(8, "Longitude", "2.294481", reject="not in the United Kingdom")
    return landed(e)


@case
def street_row_of_another_month():
    """Two rows carry a month other than the file's (2023-12 and 2024-02 in the January 2024 file)."""
    e = Extract.base("street")
    e.set(2, "Month", "2023-12", reject="is not the file's month")
    e.set(11, "Month", "2024-02", reject="is not the file's month")
    return landed(e)


@case
def street_nul_bytes_in_a_row():
    """NUL bytes inside one row's Location (a disk write gone wrong): that row is rejected, the rest load."""
    e = Extract.base("street")
    text = csv_line(e.rows[5]).encode()
    location = e.get(6, "Location").encode()
    e.line(6, text.replace(location, location[:10] + b"\x00\x00\x00" + location[10:]), reject="NUL")
    return landed(e)


@case
def street_gzip_named_csv():
    """The file is gzip-compressed although its name ends .csv; unpacked it is a clean extract."""
    e = Extract.base("street", file="2024-04-metropolitan-street.csv").set_all("Month", "2024-04")
    return Landed({e.file: gzipped(e.to_bytes())}, [e.expected()])


@case
def street_future_month_in_name():
    """The file name's month (2042-01, a 2024 typo) is in the future."""
    e = Extract.base("street", file="2042-01-metropolitan-street.csv").set_all("Month", "2042-01")
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, e.dataset, "future")])


@case
def street_unknown_force():
    """A street file from a force the contract does not list (Kent)."""
    e = Extract.base("street", file="2024-01-kent-street.csv", rows=10)
    e.set_all("Reported by", "Kent Police").set_all("Falls within", "Kent Police")
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, None, "kent")])


@case
def street_png_image_named_csv():
    """A PNG image saved under the City of London street file's name."""
    return Landed({"2024-01-city-of-london-street.csv": png_bytes()},
                  [quarantined("2024-01-city-of-london-street.csv", "police_uk_street_crimes", "not a text")])


@case
def street_btp_bom_and_crlf():
    """BTP's file saved by Excel: UTF-8 with a byte-order mark and CRLF line endings; every row loads."""
    e = Extract.base("btp-street")
    return landed(e, bom=True, newline="\r\n")


# --- police.uk outcomes -----------------------------------------------------------------------------------

@case
def outcomes_tab_delimited():
    """The outcomes file was exported tab-delimited."""
    e = Extract.base("outcomes")
    return Landed({e.file: e.to_bytes(delimiter="\t")}, [quarantined(e.file, e.dataset, "tab")])


@case
def outcomes_unbalanced_quote_on_last_row():
    """The last row opens a quoted Location that the file never closes."""
    e = Extract.base("outcomes")
    last = len(e.rows)
    e.unquoted(last, "Location", '"On or near Church Lane', reject="quote")
    return landed(e)


@case
def outcomes_csv_gz():
    """The outcomes file arrives gzipped as .csv.gz; it is loaded as the .csv inside."""
    e = Extract.base("outcomes", file="2024-03-metropolitan-outcomes.csv").set_all("Month", "2024-03")
    return Landed({e.file + ".gz": gzipped(e.to_bytes())}, [e.expected()], members=(e.file,))


@case
def outcomes_missing_outcome_type():
    """The Outcome type column is missing from the header and from every row."""
    e = Extract.base("outcomes")
    i = e.col("Outcome type")
    e.header.pop(i)
    for r in e.rows:
        r.pop(i)
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, e.dataset, "missing required")])


@case
def outcomes_coordinates_swapped():
    """Two outcome rows have latitude and longitude swapped."""
    e = Extract.base("outcomes")
    swap_coordinates(e, 2)
    swap_coordinates(e, 10)
    return landed(e)


@case
def outcomes_row_missing_last_field():
    """One row lacks its last field (Outcome type): 9 fields against the header's 10."""
    e = Extract.base("outcomes")
    e.line(4, csv_line(e.rows[3][:-1]), reject="fields")
    return landed(e)


@case
def police_uk_download_zip():
    """police.uk's download: a zip of the month's folder holding street and outcomes files; each is ingested."""
    street = Extract.base("street", file="2024-02-metropolitan-street.csv", rows=10).set_all("Month", "2024-02")
    street.set(6, "Month", "2024-01", reject="is not the file's month")
    city = Extract.base("city-street", file="2024-02-city-of-london-street.csv").set_all("Month", "2024-02")
    outcomes = Extract.base("outcomes", file="2024-02-metropolitan-outcomes.csv", rows=10).set_all("Month", "2024-02")
    members = {f"2024-02/{e.file}": e.to_bytes() for e in (street, city, outcomes)}
    return Landed({"2024-02.zip": zipped(members)}, [e.expected() for e in (street, city, outcomes)],
                  members=tuple(e.file for e in (street, city, outcomes)))


# --- MPS victims, perpetrators, recorded outcomes ---------------------------------------------------------

@case
def victims_semicolon_delimited():
    """The victims file was saved by a spreadsheet set to a European locale: semicolons between fields."""
    e = Extract.base("victims")
    return Landed({e.file: e.to_bytes(delimiter=";")}, [quarantined(e.file, e.dataset, "semicolon")])


@case
def victims_number_forms():
    """Victim number as 1.0 and ' 2 ' (whole numbers, accepted), 1.5 (not whole) and blank (required)."""
    e = Extract.base("victims")
    e.set(3, "Victim number", "1.0").set(10, "Victim number", " 2 ")
    e.set(5, "Victim number", "1.5", reject="whole number")
    e.set(8, "Victim number", "", reject="is blank")
    return landed(e)


@case
def victims_row_of_another_month():
    """Two victims rows were recorded in May and July, not in the June file's month."""
    e = Extract.base("victims")
    e.set(4, "Month recorded", "2024-05", reject="is not the file's month")
    e.set(12, "Month recorded", "2024-07", reject="is not the file's month")
    return landed(e)


@case
def victims_row_missing_age_range():
    """One victims row stops before its Age range: 6 fields against 7."""
    e = Extract.base("victims")
    e.line(6, csv_line(e.rows[5][:6]), reject="fields")
    return landed(e)


@case
def perpetrators_number_null_forms():
    """Suspect Number (required) given as N/A and '-' (blank), and as 2.0 and 1.00 (whole, accepted)."""
    e = Extract.base("perpetrators")
    number = e.header[1]
    e.set(2, number, "N/A", reject="is blank").set(5, number, "-", reject="is blank")
    e.set(7, number, "2.0").set(9, number, "1.00")
    return landed(e)


@case
def perpetrators_unknown_file_name():
    """The perpetrators extract renamed 'suspects': no contract knows the name."""
    e = Extract.base("perpetrators", file="2024-06-metropolitan-suspects.csv")
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, None, "2024-06-metropolitan-suspects.csv")])


@case
def perpetrators_utf8_bom():
    """The perpetrators file with a UTF-8 byte-order mark before its (older, aliased) header; every row loads."""
    return landed(Extract.base("perpetrators"), bom=True)


@case
def recorded_outcomes_date_forms():
    """Outcome date day-first (accepted), month-first with day 13, and with a two-digit year (both rejected)."""
    e = Extract.base("recorded-outcomes")
    dated = e.rows_with("Outcome date")
    first = e.get(dated[0], "Outcome date")
    e.set(dated[0], "Outcome date", f"{first[8:10]}/{first[5:7]}/{first[:4]}")
    e.set(dated[1], "Outcome date", "06/13/2024", reject="date")
    e.set(dated[2], "Outcome date", "13/06/24", reject="date")
    return landed(e)


@case
def recorded_outcomes_future_outcome_date():
    """One outcome is dated 2042 (a typo of 2024): a date in the future."""
    e = Extract.base("recorded-outcomes")
    e.set(e.rows_with("Outcome date")[3], "Outcome date", "2042-06-13", reject="in the future")
    return landed(e)


@case
def recorded_outcomes_outcome_column_twice():
    """The header carries both Outcome and its older name Outcome category: two columns feed one."""
    e = Extract.base("recorded-outcomes")
    e.header.insert(e.col("Outcome") + 1, "Outcome category")
    for r in e.rows:
        r.insert(e.col("Outcome"), r[e.col("Outcome")])
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, e.dataset, "Outcome")])


@case
def recorded_outcomes_cr_line_endings():
    """Saved by an old Mac spreadsheet: CR-only line endings; every row loads."""
    return landed(Extract.base("recorded-outcomes"), newline="\r")


@case
def mps_zip_with_readme():
    """The MPS sends its July extracts as one zip with a README: both CSVs load, the README is quarantined."""
    victims = Extract.base("victims", file="2024-07-metropolitan-victims.csv", rows=8)
    victims.set_all("Month recorded", "2024-07")
    perps = Extract.base("perpetrators", file="2024-07-metropolitan-perpetrators.csv", rows=8)
    perps.set_all(perps.header[2], "2024-07")
    perps.set(3, perps.header[1], "1.5", reject="whole number")
    readme = b"MPS monthly extracts, July 2024.\nContact: data.office@met.police.example\n"
    members = {victims.file: victims.to_bytes(), perps.file: perps.to_bytes(), "README.txt": readme}
    return Landed({"2024-07-metropolitan-extracts.zip": zipped(members)},
                  [victims.expected(), perps.expected(), quarantined("README.txt", None, "README.txt")],
                  members=(victims.file, perps.file, "README.txt"))


# --- MPS anti-social behaviour ----------------------------------------------------------------------------

@case
def asb_unbalanced_quote_before_quoted_rows():
    """A Location description opens a quote it never closes, and later rows hold properly quoted descriptions:
    only the broken line is rejected, the quoted rows after it load as themselves."""
    e = Extract.base("asb")
    quoted = e.rows_with("Location description", lambda v: "," in v)
    row = next(n for n in range(2, len(e.rows)) if n < quoted[-1] and n not in quoted)
    e.unquoted(row, "Location description", '"Rear of 14 Mill Lane', reject="quote")
    return landed(e)


@case
def asb_location_spans_two_lines():
    """A correctly quoted Location description holds a line break: one record over two lines, loaded."""
    e = Extract.base("asb")
    e.set(3, "Location description", "Outside 12 Kent Road\nby the bus stop")
    e.loaded(3, location_description="Outside 12 Kent Road\nby the bus stop")
    return landed(e)


@case
def asb_response_time_forms():
    """Response time minutes as 42.0, "1,020", 1.2E+01, ' 17 ', NULL and '-' (accepted) and 12.5 (rejected)."""
    e = Extract.base("asb")
    col = "Response time minutes"
    for row, value in ((2, "42.0"), (4, "1,020"), (6, "1.2E+01"), (8, " 17 "), (10, "NULL"), (12, "-")):
        e.set(row, col, value)
    e.set(14, col, "12.5", reject="whole number")
    return landed(e)


@case
def asb_mixed_encodings():
    """A UTF-8 file (with £) in which two rows were pasted in from a Windows-1252 system."""
    e = Extract.base("asb")
    col = "Location description"
    e.set(2, col, "Outside the £1 shop, Green Street").set(5, col, "Café Nero, Station Parade")
    for row, text in ((7, "Outside the £2 shop, Mare Street"), (11, "Rear of Café Rouge")):
        e.set(row, col, text)
        e.line(row, csv_line(e.rows[row - 1]).encode("cp1252"), reject="UTF-8")
    e.loaded(2, location_description="Outside the £1 shop, Green Street")
    return landed(e)


@case
def asb_utf16():
    """The ASB file exported as UTF-16 (little-endian, with its byte-order mark); it loads like UTF-8."""
    e = Extract.base("asb")
    e.set(4, "Location description", "Outside Café Rouge, Kingsland High Street")
    e.loaded(4, location_description="Outside Café Rouge, Kingsland High Street")
    return landed(e, encoding="utf-16")


# --- London Ambulance Service -----------------------------------------------------------------------------

@case
def las_patient_age_forms():
    """Patient age as 31.0, ' 26 ', 2.6E+01, NULL, N/A and '-' (accepted) and 31.5 (not a whole number)."""
    e = Extract.base("las")
    for row, value in ((2, "31.0"), (3, " 26 "), (4, "NULL"), (5, "N/A"), (6, "-"), (7, "2.6E+01")):
        e.set(row, "Patient age", value)
    e.set(9, "Patient age", "31.5", reject="whole number")
    return landed(e)


@case
def las_incident_date_forms():
    """Incident date day-first (accepted), month-first with day 13, two-digit year, and 2042 (future)."""
    e = Extract.base("las")
    first = e.get(3, "Incident date")
    e.set(3, "Incident date", f"{first[8:10]}/{first[5:7]}/{first[:4]}")
    e.set(6, "Incident date", "09/13/2024", reject="date")
    e.set(10, "Incident date", "05/09/24", reject="date")
    e.set(14, "Incident date", "2042-09-05", reject="in the future")
    return landed(e)


@case
def las_coordinates_swapped_and_outside_uk():
    """Dispatch points swapped (latitude in longitude), at 0,0 and in Germany; a Manchester point is in the UK."""
    e = Extract.base("las")
    located = e.rows_with("Latitude")
    swap_coordinates(e, located[0])
    e.set(located[1], "Latitude", "0").set(located[1], "Longitude", "0", reject="not in the United Kingdom")
    e.set(located[2], "Latitude", "51.500000").set(located[2], "Longitude", "8.500000",
                                                   reject="not in the United Kingdom")
    e.set(located[3], "Latitude", "53.480759").set(located[3], "Longitude", "-2.242631")
    return landed(e)


@case
def las_nul_byte():
    """A NUL byte inside one row's Call category."""
    e = Extract.base("las")
    category = e.get(4, "Call category").encode()
    assert csv_line(e.rows[3]).encode().count(b"," + category + b",") == 1
    e.line(4, csv_line(e.rows[3]).encode().replace(b"," + category + b",", b"," + category + b"\x00,"), reject="NUL")
    return landed(e)


@case
def las_header_only_crlf():
    """A month with no violence dispatches in the extract: the header alone (CRLF); loaded with no rows."""
    e = Extract.base("las", file="2024-08-las-violence-dispatches.csv", rows=0)
    return landed(e, newline="\r\n")


@case
def las_png_image_named_csv():
    """A screenshot (PNG) saved under the LAS extract's name."""
    data = png_bytes() + b"\x00" * 16
    return Landed({"2024-10-las-violence-dispatches.csv": data},
                  [quarantined("2024-10-las-violence-dispatches.csv", "las_violence_dispatches", "not a text")])


# --- London Fire Brigade ----------------------------------------------------------------------------------

@case
def lfb_number_forms():
    """Numbers as "1,456", 3.93E+02, 8.0, ' 2 ', NULL, N/A and '-' (accepted) and 393.5 (not a whole number)."""
    e = Extract.base("lfb")
    for row, col, value in ((2, "Notional Cost (£)", "1,456"), (3, "FirstPumpArriving_AttendanceTime", "3.93E+02"),
                            (4, "HourOfCall", "8.0"), (5, "PumpCount", " 2 "),
                            (6, "SecondPumpArriving_AttendanceTime", "NULL"), (7, "NumCalls", "N/A"),
                            (8, "NumPumpsAttending", "-")):
        e.set(row, col, value)
    e.set(10, "FirstPumpArriving_AttendanceTime", "393.5", reject="whole number")
    return landed(e)


@case
def lfb_windows_1252_whole_file():
    """The whole file in Windows-1252 (the £ of the header, a café): it loads whole."""
    e = Extract.base("lfb")
    e.set(3, "PropertyType", "Café/restaurant").loaded(3, property_type="Café/restaurant")
    return landed(e, encoding="cp1252")


@case
def lfb_date_of_call_forms():
    """DateOfCall 05/11/2024 is 5 November (day first, accepted); a call of 31 October is not of the file's month."""
    e = Extract.base("lfb")
    e.set(2, "DateOfCall", "05/11/2024")
    e.set(5, "DateOfCall", "31/10/2024", reject="the file's month")
    e.set(8, "DateOfCall", "13/11/2024")
    return landed(e)


@case
def lfb_unquoted_comma_in_property_type():
    """A PropertyType with an unquoted comma: 41 fields against the header's 40."""
    e = Extract.base("lfb")
    e.set(4, "Motive", "Not known")   # a last field that is not blank: the row cannot pass as blank padding
    e.unquoted(4, "PropertyType", "House - single occupancy, converted", reject="fields")
    return landed(e)


@case
def lfb_workbook_with_summary_sheet():
    """An LFB workbook whose second sheet is a summary table, not incidents: loaded, the summary named as left aside."""
    e = Extract.base("lfb", file="2024-11-lfb-incidents.xlsx")
    summary = [["Borough", "Incidents"], ["HILLINGDON", 4], ["ISLINGTON", 3], ["TOWER HAMLETS", 8]]
    data = workbook({"Incidents": [e.header, *(excel_cells(e.header, r) for r in e.rows)], "Summary": summary})
    return Landed({e.file: data}, [{**e.expected(), "message": "left aside (not lfb_incidents data): Summary"}])


@case
def lfb_workbook_with_a_late_sheet_of_another_layout():
    """An LFB workbook whose second sheet holds incidents under an older header (no IncidentNumber): it cannot
    load, so neither sheet does, and the message names it."""
    e = Extract.base("lfb", file="2024-10-lfb-incidents.xlsx")
    keep = [i for i, h in enumerate(e.header) if h != "IncidentNumber"]
    late = [[e.header[i] for i in keep], *([excel_cells(e.header, r)[i] for i in keep] for r in e.rows[:3])]
    data = workbook({"Incidents": [e.header, *(excel_cells(e.header, r) for r in e.rows)], "Late returns": late})
    return Landed({e.file: data}, [quarantined(e.file, e.dataset, "'Late returns' hold lfb_incidents data")])


# --- TfL network crimes -----------------------------------------------------------------------------------

@case
def network_empty_file():
    """A zero-byte file (the upload failed)."""
    return Landed({"2025-02-tfl-network-crimes.csv": b""},
                  [quarantined("2025-02-tfl-network-crimes.csv", "tfl_network_crimes", "empty")])


@case
def network_offence_date_forms():
    """Offence date day-first and ISO (accepted); month-first with day 13, two-digit year, January (rejected)."""
    e = Extract.base("network", file="2025-03-tfl-network-crimes.csv")
    e.set_all("Offence Date", "2025-03-10")
    e.set(2, "Offence Date", "05/03/2025")
    e.set(4, "Offence Date", "03/13/2025", reject="date")
    e.set(7, "Offence Date", "05/03/25", reject="date")
    e.set(9, "Offence Date", "2025-03-14")
    e.set(11, "Offence Date", "2025-02-28", reject="the file's month")
    return landed(e)


@case
def network_blank_lines_crlf():
    """CRLF, a blank line in the middle and three at the end: blank lines are not rows (row 8 is the 8th record)."""
    e = Extract.base("network")
    e.set(8, "Mode", "", reject="is blank")
    return landed(e, newline="\r\n", blank_after=(5,), trailing_blank_lines=3)


@case
def network_stray_quote_in_station():
    """A station typed King"s Cross: the quote in an unquoted field is data."""
    e = Extract.base("network")
    e.unquoted(3, "Route Or Station", 'King"s Cross St. Pancras').loaded(3, route_or_station='King"s Cross St. Pancras')
    return landed(e)


@case
def network_row_missing_two_fields():
    """One row lacks Offence Category and Recorded By: 6 fields against 8."""
    e = Extract.base("network")
    e.line(6, csv_line(e.rows[5][:6]), reject="fields")
    return landed(e)


# --- TfL bus safety ---------------------------------------------------------------------------------------

@case
def bus_workbook_two_data_sheets():
    """TfL's workbook splits the month over two sheets that both carry the header: both load, rows numbered
    on from the first sheet to the second."""
    e = Extract.base("bus", file="2025-02-tfl-bus-safety.xlsx")
    e.set(11, "Incident Event Type", "", reject="is blank")
    cells = [excel_cells(e.header, r) for r in e.rows]
    data = workbook({"Sheet1": [e.header, *cells[:8]], "Sheet1 (2)": [e.header, *cells[8:]]})
    return Landed({e.file: data}, [e.expected()])


@case
def bus_csv_year_forms():
    """The bus safety CSV with Year as 2025.0, 2.025E+03, ' 2025 ' and NULL (accepted) and 2024.5 (rejected)."""
    e = Extract.base("bus", file="2025-02-tfl-bus-safety.csv")
    for row, value in ((2, "2025.0"), (4, "2.025E+03"), (6, " 2025 "), (8, "NULL")):
        e.set(row, "Year", value)
    e.set(10, "Year", "2024.5", reject="whole number")
    return landed(e)


@case
def bus_workbook_row_of_another_month():
    """A bus workbook (January 2025) with a December incident and one without an Incident Event Type."""
    e = Extract.base("bus", file="2025-01-tfl-bus-safety.xlsx", rows=10)
    e.set_all("Date Of Incident", "2025-01-01").set_all("Year", "2025")
    e.set(3, "Date Of Incident", "2024-12-01", reject="the file's month")
    e.set(6, "Incident Event Type", "", reject="is blank")
    data = workbook({"Sheet1": [e.header, *(excel_cells(e.header, r) for r in e.rows)]})
    return Landed({e.file: data}, [e.expected()])


# --- ISTV (emergency departments) -------------------------------------------------------------------------

@case
def istv_location_spans_two_lines():
    """A quoted Assault location description holds a line break: one record over two lines, loaded."""
    e = Extract.base("istv")
    text = "Outside the chip shop\non Whitechapel Road [ftx]"
    e.set(4, "Assault location description", text).loaded(4, location_description=text)
    return landed(e)


@case
def istv_stray_quotes_in_description():
    """An unquoted description with a pub's name in quotes: the quotes are data."""
    e = Extract.base("istv")
    text = 'Pub "The Blind Beggar" on Whitechapel Road [ftx]'
    e.unquoted(6, "Assault location description", text).loaded(6, location_description=text)
    return landed(e)


@case
def istv_mixed_encodings():
    """A UTF-8 file (with é) in which two rows hold Windows-1252 bytes."""
    e = Extract.base("istv")
    col = "Assault location description"
    e.set(2, col, "Café on Mile End Road [ftx]").set(8, col, "Crêperie on Brick Lane [ftx]")
    for row in (5, 12):
        e.set(row, col, "Café on Commercial Road [ftx]")
        e.line(row, csv_line(e.rows[row - 1]).encode("cp1252"), reject="UTF-8")
    e.loaded(2, location_description="Café on Mile End Road [ftx]")
    return landed(e)


@case
def istv_windows_1252_whole_file():
    """The whole ISTV file in Windows-1252 (é, £): it loads whole, the text decoded."""
    e = Extract.base("istv")
    col = "Assault location description"
    e.set(3, col, "Café on Mile End Road [ftx]").set(7, col, "Outside the £1 shop [ftx]")
    e.loaded(3, location_description="Café on Mile End Road [ftx]")
    e.loaded(7, location_description="Outside the £1 shop [ftx]")
    return landed(e, encoding="cp1252", newline="\r\n")


@case
def istv_date_forms():
    """Arrival date day-first (accepted); assault date month-first with day 13 and with a two-digit year;
    an arrival in 2042 (future)."""
    e = Extract.base("istv")
    first = e.get(3, "Arrival date")
    e.set(3, "Arrival date", f"{first[8:10]}/{first[5:7]}/{first[:4]}")
    e.set(6, "Assault date", "04/13/2025", reject="date")
    e.set(9, "Assault date", "12/04/25", reject="date")
    e.set(11, "Arrival date", "2042-04-12", reject="in the future")
    return landed(e)


@case
def istv_unknown_site():
    """A file named for a site code the contract does not list (rxx99)."""
    e = Extract.base("istv", file="2025-04-rxx99-istv.csv", rows=5).set_all("Site code", "RXX99")
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, None, "rxx99")])


@case
def istv_missing_arrival_time():
    """The Arrival time column is missing."""
    e = Extract.base("istv")
    i = e.col("Arrival time")
    e.header.pop(i)
    for r in e.rows:
        r.pop(i)
    return Landed({e.file: e.to_bytes()}, [quarantined(e.file, e.dataset, "missing required")])


@case
def istv_zip_of_sites():
    """One zip holding three sites' April files; each is ingested as a file of its own."""
    trust = [Extract.base(k) for k in ("istv-rj122", "istv-rj611")]
    kings = Extract.base("istv", file="2025-04-rjz01-istv.csv", rows=6).set_all("Site code", "RJZ01")
    kings.set(2, "Arrival time", "", reject="is blank")
    extracts = [*trust, kings]
    return Landed({"2025-04-istv-submissions.zip": zipped({e.file: e.to_bytes() for e in extracts})},
                  [e.expected() for e in extracts], members=tuple(e.file for e in extracts))


@case
def istv_utf16_crlf():
    """The ISTV file exported as UTF-16 with a byte-order mark and CRLF; it loads like UTF-8."""
    e = Extract.base("istv")
    e.set(5, "Assault location description", "Bar Rosé on Upper Street [ftx]")
    e.loaded(5, location_description="Bar Rosé on Upper Street [ftx]")
    return landed(e, encoding="utf-16", newline="\r\n")


# --- ONS lookup -------------------------------------------------------------------------------------------

@case
def ons_unquoted_comma_in_name():
    """An LSOA name with an unquoted comma: 8 fields against the header's 7."""
    e = Extract.base("ons")
    e.unquoted(6, "LSOA21NM", e.get(6, "LSOA21NM").replace(" ", ", ", 1), reject="fields")
    return landed(e)


@case
def ons_header_only():
    """The lookup's header with no rows: loaded, 0 rows."""
    return landed(Extract.base("ons", rows=0))


@case
def ons_jpeg_named_csv():
    """A JPEG photo saved under the lookup's name."""
    return Landed({ONS_FILE: jpeg_bytes()}, [quarantined(ONS_FILE, "ons_lsoa_ward_lookup", "not a text")])


# ---------------------------------------------------------------------------------------------------------

def write_case(name: str, build: Callable[[], Landed]) -> Landed:
    result = build()
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for file, data in result.files.items():
        assert len(data) < 50_000, (name, file)
        (folder / file).write_bytes(data)
    why = " ".join(build.__doc__.split())
    if len(result.expected) == 1:
        doc = {**result.expected[0]}
        doc = {"file": doc.pop("file"), "why": why, **doc}
    else:
        doc = {"why": why, "files": result.expected}
    with (folder / "expected.yml").open("w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, allow_unicode=True, width=120)
    return result


def make_cases() -> None:
    for stale in HERE.iterdir():
        if stale.is_dir() and (stale / "expected.yml").exists() and stale.name not in CASES:
            shutil.rmtree(stale)
    digests: dict[str, str] = {}
    members: dict[str, str] = {}
    plain: dict[str, set[str]] = {}
    for name, build in CASES.items():
        result = write_case(name, build)
        # Every file distinct (the same bytes twice would be skipped as already seen when the whole corpus
        # lands at once), and a name that comes out of an archive appears once in the corpus.
        for file, data in result.files.items():
            digest = hashlib.sha256(data).hexdigest()
            assert digest not in digests, f"{name}/{file} has the same bytes as {digests[digest]}"
            digests[digest] = f"{name}/{file}"
        for member in result.members:
            assert member not in members, f"{name}: {member} also comes out of {members[member]}"
            members[member] = name
        plain[name] = {doc["file"] for doc in result.expected} - set(result.members)
    for member, owner in members.items():
        clash = [name for name, files in plain.items() if member in files]
        assert not clash, f"{member} (out of an archive in {owner}) is also a file of {clash}"
    print(f"{len(CASES)} cases under {HERE}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", action="store_true", help="rewrite the clean bases from safestats synth first")
    args = parser.parse_args(argv)
    if args.bases:
        make_bases()
    make_cases()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
