"""What a sample extract says about its contract: column names, types, blanks, file-name pattern.

The types follow the ingest's own readers (`raw.extract_*` in src/safestats/sql/ingest_bookkeeping.sql,
docs/extract-contracts.md "Values"): a column gets the narrowest type whose reader accepts every
non-blank sample value, so the ingest will accept the sample as it stands. Written in Python so that the
scaffold needs no server; tests/test_new_dataset.py checks the inferred contract against the SQL readers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

from safestats.validation import UK_BOX

# Blank for a typed column: raw.is_blank.
NULL_SPELLINGS = {"", "NULL", "N/A", "NA", "-"}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
FULL_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
               "october", "november", "december"]
BIGINT = (-9223372036854775808, 9223372036854775807)

# The order types are tried in: the first whose reader takes every non-blank value wins.
TYPE_ORDER = ("integer", "number", "month", "timestamp", "date", "time")

_FLOAT8 = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_THOUSANDS = re.compile(r"^\s*[+-]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?\s*$")
_MONTH = re.compile(r"^\s*([0-9]{4})-(0[1-9]|1[0-2])\s*$")
_ISO_DATE = re.compile(r"^\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                      r"([ T]([0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?))?\s*$")
_DMY = re.compile(r"^\s*([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\s*$")
_DAY_MON_YEAR = re.compile(r"^\s*([0-9]{1,2})[ -]([A-Za-z]+)[ -]([0-9]{4})\s*$")
_TIME = re.compile(r"^\s*([0-9]{1,2}):([0-9]{2})(:([0-9]{2})([.][0-9]+)?)?\s*$")
_TIMESTAMP = re.compile(r"^\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})"
                        r"[ T]([0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)\s*$")


def is_blank(value: str) -> bool:
    return value.strip(" \t\r\n").upper() in NULL_SPELLINGS


def read_number(value: str) -> float | None:
    """raw.extract_number: 131, -0.14, .5, 1.31E+02, 1,234.5; never NaN, infinity, hex or 1_000."""
    if _FLOAT8.match(value):
        return float(value)
    if _THOUSANDS.match(value):
        return float(value.replace(",", ""))
    return None


def read_integer(value: str) -> int | None:
    """raw.extract_integer: a number whose value is whole (131.0, 1e3, 1,234) within a bigint."""
    number = read_number(value)
    if number is None or number != int(number):
        return None
    whole = int(number)
    return whole if BIGINT[0] <= whole <= BIGINT[1] else None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _time(hour: int, minute: int, second: int) -> time | None:
    if (hour, minute, second) == (24, 0, 0):
        return time(0, 0)
    if hour < 24 and minute < 60 and second < 61:
        return time(hour, minute, min(second, 59))
    return None


def read_time(value: str) -> time | None:
    """raw.extract_time: H:MM or HH:MM, optionally :SS and a fraction; nothing else."""
    m = _TIME.match(value)
    return _time(int(m[1]), int(m[2]), int(m[4] or 0)) if m else None


def read_date(value: str) -> date | None:
    """raw.extract_date: ISO (a time after it allowed), DD/MM/YYYY day first, DD Mon YYYY, DD-Mon-YYYY."""
    if m := _ISO_DATE.match(value):
        if m[5] and read_time(m[5]) is None:
            return None
        return _date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY.match(value):
        return _date(int(m[3]), int(m[2]), int(m[1]))
    if m := _DAY_MON_YEAR.match(value):
        name = m[2].lower()
        month = (MONTHS.index(name) + 1 if name in MONTHS
                 else FULL_MONTHS.index(name) + 1 if name in FULL_MONTHS else None)
        return _date(int(m[3]), month, int(m[1])) if month else None
    return None


def read_timestamp(value: str) -> bool:
    """raw.extract_timestamp: a date (ISO or DD/MM/YYYY) and a time of day, by a space or a T."""
    m = _TIMESTAMP.match(value)
    return bool(m) and read_date(m[1]) is not None and read_time(m[2]) is not None


def read_month(value: str) -> bool:
    return bool(_MONTH.match(value))


READS = {
    "integer": lambda v: read_integer(v) is not None,
    "number": lambda v: read_number(v) is not None,
    "month": read_month,
    "timestamp": read_timestamp,
    "date": lambda v: read_date(v) is not None,
    "time": lambda v: read_time(v) is not None,
}

# Headers that name a coordinate (the type is latitude/longitude only when the values fit the UK's box too).
_COORDINATE_HEADERS = {"latitude": re.compile(r"(^|_)(latitude|lat)$"),
                       "longitude": re.compile(r"(^|_)(longitude|lon|lng|long)$")}


def snake_case(header: str) -> str:
    """A header as a column name: `Report Date` -> report_date, `IncidentNumber` -> incident_number."""
    text = header.replace("\ufeff", "").strip()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if not text:
        text = "column"
    return f"col_{text}" if text[0].isdigit() else text


def column_names(headers: list[str]) -> list[str]:
    """snake_case of each header, made unique (`_2`, `_3` for repeats)."""
    names: list[str] = []
    for header in headers:
        base = snake_case(header)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


@dataclass(frozen=True)
class InferredColumn:
    name: str
    header: str
    type: str
    not_blank: bool
    values: tuple[str, ...]          # the sample's values, as they arrived

    @property
    def present(self) -> list[str]:
        return [v for v in self.values if not self.blank(v)]

    def blank(self, value: str) -> bool:
        return value.strip(" \t\r\n") == "" if self.type == "text" else is_blank(value)

    @property
    def distinct(self) -> set[str]:
        return {v.strip() for v in self.present}


def infer_type(name: str, values: list[str]) -> str:
    """The narrowest contract type whose reader takes every non-blank value; text when none does (or none is
    present)."""
    present = [v for v in values if not is_blank(v)]
    if not present:
        return "text"
    for kind, pattern in _COORDINATE_HEADERS.items():
        low, high = UK_BOX[kind]
        if pattern.search(name) and all((n := read_number(v)) is not None and low <= n <= high for v in present):
            return kind
    return next((kind for kind in TYPE_ORDER if all(READS[kind](v) for v in present)), "text")


def infer_column(name: str, header: str, values: list[str]) -> InferredColumn:
    kind = infer_type(name, values)
    blank = (lambda v: v.strip(" \t\r\n") == "") if kind == "text" else is_blank
    return InferredColumn(name, header, kind, not_blank=bool(values) and not any(blank(v) for v in values),
                          values=tuple(values))


def infer_columns(headers: list[str], rows: list[list[str]]) -> list[InferredColumn]:
    names = column_names(headers)
    return [infer_column(name, header, [row[i] if i < len(row) else "" for row in rows])
            for i, (name, header) in enumerate(zip(names, headers))]


@dataclass(frozen=True)
class FileName:
    pattern: str         # the contract's meta.ingest.file_name
    agency: str          # the agency slug the pattern captures
    example: str         # the sample's own name
    period: str | None   # the sample's month, when its name has one


_DATED_NAME = re.compile(r"^(?P<period>\d{4}-\d{2})-(?P<rest>[A-Za-z0-9][A-Za-z0-9_-]*)\.(?P<ext>csv)$",
                         re.IGNORECASE)


def file_name_pattern(sample: Path, agency: str | None, dataset: str) -> FileName:
    """The contract's file-name pattern from the sample's name, captured the way existing contracts do:
    `2024-03-acme-widgets.csv` -> `(?P<period>\\d{4}-\\d{2})-(?P<agency>acme)-widgets\\.csv`. The agency is
    --agency, or the name's first word after the month. A sample named otherwise gives the project's usual
    shape, YYYY-MM-<agency>-<dataset with hyphens>.csv (then --agency is needed)."""
    m = _DATED_NAME.match(sample.name)
    if m:
        rest = m["rest"].lower()
        if agency and rest.startswith(agency + "-") and len(rest) > len(agency) + 1:
            thing = rest[len(agency) + 1:]
        elif agency:
            thing = rest
        else:
            agency, _, thing = rest.partition("-")
            thing = thing or dataset.replace("_", "-")
        period = m["period"]
    else:
        if not agency:
            raise ValueError(f"{sample.name}: the name does not start YYYY-MM-<agency>-, so the agency cannot be "
                             "read from it: give --agency SLUG")
        thing, period = dataset.replace("_", "-"), None
    return FileName(pattern=rf"(?P<period>\d{{4}}-\d{{2}})-(?P<agency>{_literal(agency)})-{_literal(thing)}\.csv",
                    agency=agency, example=sample.name, period=period)


def _literal(text: str) -> str:
    """A name as a regex matching itself: letters, digits, - and _ stand for themselves."""
    return "".join(c if c.isalnum() or c in "-_" else re.escape(c) for c in text)
