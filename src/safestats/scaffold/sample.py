"""Reading a sample extract: its header and its first rows, as the ingest would read them."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

SAMPLE_ROWS = 2_000          # rows read for inference: enough to see blanks and types, quick on any file
SAMPLE_BYTES = 32 * 1024 * 1024


class SampleError(ValueError):
    """The sample cannot be read as a CSV extract."""


@dataclass(frozen=True)
class Sample:
    path: Path
    headers: list[str]
    rows: list[list[str]]
    encoding: str


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM), else Windows-1252: the encodings agencies send (sniff.py)."""
    if b"\0" in data[:4096]:
        raise SampleError("it is not a text file (it holds NUL bytes: a binary file, or UTF-16)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            raise SampleError("it is neither UTF-8 nor Windows-1252 text") from None


def read_sample(path: Path, limit: int = SAMPLE_ROWS) -> Sample:
    """The header and up to `limit` data rows; SampleError when it is not a comma-separated text extract."""
    if path.suffix.lower() != ".csv":
        raise SampleError(f"{path.name} is not a .csv file (save a workbook's data sheet as CSV first)")
    try:
        with path.open("rb") as fh:
            data = fh.read(SAMPLE_BYTES)
    except OSError as exc:
        raise SampleError(f"cannot read {path}: {exc.strerror or exc}") from None
    text, encoding = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader, None)
        rows = []
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error as exc:
        raise SampleError(f"{path.name} is not readable as CSV: {exc}") from None
    if not headers or not any(h.strip() for h in headers):
        raise SampleError(f"{path.name} has no header row")
    if len(headers) == 1 and any(sep in headers[0] for sep in ";\t|"):
        raise SampleError(f"{path.name} is not comma-separated (the ingest takes commas only)")
    if any(not h.strip() for h in headers):
        raise SampleError(f"{path.name}: column {[h.strip() for h in headers].index('') + 1} of the header is blank")
    if not rows:
        raise SampleError(f"{path.name} has a header but no rows to infer types from")
    return Sample(path, [h.replace("\ufeff", "").strip() for h in headers], rows, encoding)
