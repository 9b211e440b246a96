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


def _resembles(contract: Contract, header: list[str]) -> bool:
    """A first row naming at least half of the contract's required columns: meant as data, not a pivot or notes."""
    required = [c for c in contract.columns if c.required]
    named = sum(1 for c in required if any(c.accepts(h) for h in header))
    return bool(required) and named * 2 >= len(required)


def data_sheets(workbook, contract: Contract) -> tuple[list, list[str]]:
    """The sheets to load and the names of those left aside (pivots, notes). The contract's named sheet,
    else every sheet whose first row matches the contract's header. A sheet that looks like data but whose
    header does not match refuses the whole workbook: every data sheet is loaded or none."""
    if contract.sheet:
        if contract.sheet not in workbook.sheetnames:
            raise UnreadableFile(f"it has no sheet {contract.sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        return [workbook[contract.sheet]], [n for n in workbook.sheetnames if n != contract.sheet]
    loaded, aside, broken = [], [], []
    for sheet in workbook.worksheets:
        first = _header(next(sheet.iter_rows(max_row=1, values_only=True), ()))
        if first and contract.match_header(first).ok:
            loaded.append(sheet)
        elif _resembles(contract, first):
            broken.append(sheet.title)
        else:
            aside.append(sheet.title)
    if broken:
        raise UnreadableFile(f"sheet(s) {', '.join(repr(b) for b in broken)} hold {contract.dataset} data whose "
                             "header does not match the contract; every data sheet must load, so none was loaded")
    if not loaded:
        raise UnreadableFile(f"no sheet's first row matches the {contract.dataset} contract's header "
                             f"(sheets: {', '.join(workbook.sheetnames)})")
    return loaded, aside


def _column_order(contract: Contract, header: list[str], sheet_header: list[str], title: str) -> list[int]:
    """Where each column of the first data sheet sits in another data sheet (same columns, any order)."""
    keys = [_column_key(contract, h) for h in sheet_header]
    order = []
    for h in header:
        key = _column_key(contract, h)
        if key not in keys:
            raise UnreadableFile(f"sheet {title!r} has different columns from the first data sheet ({h!r} missing)")
        order.append(keys.index(key))
    if len(set(keys)) != len(keys) or len(keys) != len(header):
        raise UnreadableFile(f"sheet {title!r} has different columns from the first data sheet")
    return order


def _column_key(contract: Contract, header: str) -> str:
    col = next((c for c in contract.columns if c.accepts(header)), None)
    return col.name if col else " ".join(header.split()).casefold()


def workbook_to_csv(path: Path, contract: Contract, out: Path) -> tuple[list[str], list[str], int]:
    """Write the data sheets of `path`, one after another, to `out` (UTF-8, LF); returns (sheets loaded,
    sheets left aside, data rows written). Entirely empty rows are not rows (as blank lines in a CSV);
    every other row is written, padded to the header's width, so a row longer than the header is still
    refused by the ingest with its reason."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(f"it is not a readable XLSX workbook: {exc}") from None
    try:
        sheets, aside = data_sheets(workbook, contract)
        written, header = 0, None
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for sheet in sheets:
                rows = sheet.iter_rows(values_only=True)
                sheet_header = _header(next(rows, ()))
                if header is None:
                    header, order = sheet_header, list(range(len(sheet_header)))
                    writer.writerow(header)
                else:
                    order = _column_order(contract, header, sheet_header, sheet.title)
                width = len(sheet_header)
                for row in rows:
                    if row is None or all(v is None or v == "" for v in row):
                        continue
                    cells = [cell_text(v) for v in row]
                    while len(cells) > width and cells[-1] == "":
                        cells.pop()
                    cells += [""] * (width - len(cells))
                    writer.writerow([cells[i] for i in order] + cells[width:])
                    written += 1
        return [s.title for s in sheets], aside, written
    finally:
        workbook.close()
