"""Turn an XLSX extract's data sheet into a CSV the ingest's COPY path loads like any other file."""
from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime, time
from pathlib import Path

from safestats.contracts import Contract
from safestats.sniff import UnreadableFile


def is_workbook(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm")


def cell_text(value) -> str:
    """A cell as the CSV form of the extract would carry it: dates ISO, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep="T", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header(row) -> list[str]:
    return [cell_text(v) for v in row]


def choose_sheet(workbook, contract: Contract):
    """The contract's sheet, else the first sheet whose first row matches the contract's header."""
    if contract.sheet:
        if contract.sheet not in workbook.sheetnames:
            raise UnreadableFile(f"it has no sheet {contract.sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        return workbook[contract.sheet]
    for sheet in workbook.worksheets:
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        if first and contract.match_header(_header(first)).ok:
            return sheet
    raise UnreadableFile(f"no sheet's first row matches the {contract.dataset} contract's header "
                         f"(sheets: {', '.join(workbook.sheetnames)})")


def workbook_to_csv(path: Path, contract: Contract, out: Path) -> tuple[str, int]:
    """Write the data sheet of `path` to `out` (UTF-8, LF); returns (sheet name, data rows written).
    Entirely empty rows are not rows (as blank lines in a CSV); every other row is written, padded to the
    header's width, so a row longer than the header is still refused by the ingest with its reason."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(f"it is not a readable XLSX workbook: {exc}") from None
    try:
        sheet = choose_sheet(workbook, contract)
        rows = sheet.iter_rows(values_only=True)
        header = _header(next(rows, ()))
        width = len(header)
        written = 0
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                if row is None or all(v is None or v == "" for v in row):
                    continue
                cells = [cell_text(v) for v in row]
                while len(cells) > width and cells[-1] == "":
                    cells.pop()
                writer.writerow(cells + [""] * (width - len(cells)))
                written += 1
        return sheet.title, written
    finally:
        workbook.close()
