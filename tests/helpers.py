"""Small builders for test extracts."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from safestats import dbt

STREET_HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                 "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]


def street_row(month: str = "2024-01", crime_id: str = "abc123", lsoa: str = "Camden 001A",
               crime_type: str = "Burglary", lon: str = "-0.1400", lat: str = "51.5400", **overrides) -> list[str]:
    row = dict(zip(STREET_HEADER, [crime_id, month, "Metropolitan Police Service", "Metropolitan Police Service",
                                   lon, lat, "On or near Camden Road", "E01000907", lsoa, crime_type,
                                   "Under investigation", ""]))
    row.update(overrides)
    return [row[h] for h in STREET_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8",
              newline: str = "\n", bom: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def data_rows(path: Path, encoding: str = "utf-8-sig") -> int:
    with path.open(encoding=encoding, newline="") as fh:
        return sum(1 for row in csv.reader(fh) if row) - 1


def build_ok(cfg, *args):
    """`dbt build` (or the dbt command given) succeeded, with no failing or erroring test."""
    outcome = dbt.run(list(args), cfg) if args else dbt.build(cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0
    return outcome
