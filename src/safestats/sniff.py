"""Look at an extract's bytes: checksum, encoding, line endings and header."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 1 << 20
# Python codec name -> PostgreSQL COPY ENCODING name
POSTGRES_ENCODING = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1252": "WIN1252"}


class UnreadableFile(ValueError):
    """The file cannot be read as a CSV extract at all."""


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    encoding: str       # utf-8, utf-8-sig (UTF-8 with BOM) or cp1252 (Windows-1252)
    line_ending: str    # LF, CRLF, CR, mixed or none
    header: list[str]

    @property
    def postgres_encoding(self) -> str:
        return POSTGRES_ENCODING[self.encoding]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def guess_encoding(sample: bytes) -> str:
    """UTF-8 with a BOM, else UTF-8 when the sample decodes as UTF-8, else Windows-1252: enough to read the
    header. The load decides over the whole file (ingest._encoding_of) and decodes each line on its own."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample)  # not final: the sample may end mid-character
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def line_ending_of(sample: bytes) -> str:
    crlf = sample.count(b"\r\n")
    lf = sample.count(b"\n") - crlf
    cr = sample.count(b"\r") - crlf
    kinds = [name for name, n in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if n]
    return kinds[0] if len(kinds) == 1 else ("none" if not kinds else "mixed")


DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r")


def is_binary(sample: bytes) -> bool:
    """Not text: NUL bytes in the first line, or control characters in more than 1% of the first 4 KiB."""
    head = sample[:4096]
    first_line = head.split(b"\n", 1)[0]
    return b"\0" in first_line or len(head.translate(None, CONTROL_BYTES)) < 0.99 * len(head)


def wrong_delimiter(header: list[str]) -> str | None:
    """Which separator a one-column header is really split by (semicolons, tabs, bars), if any."""
    if len(header) != 1:
        return None
    counts = {name: header[0].count(d) for d, name in DELIMITERS.items()}
    name, n = max(counts.items(), key=lambda kv: kv[1])
    return name if n else None


def sniff(path: Path, sha256: str | None = None) -> FileFacts:
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile("the file is empty: it has no header row")
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if is_binary(sample):
        raise UnreadableFile("it is not a text file (its first bytes are binary): not a CSV extract")
    encoding = guess_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:
        raise UnreadableFile(f"its header row is not valid CSV: {exc}") from None
    if not any(h.strip() for h in header):
        raise UnreadableFile("its first row is blank: there is no header")
    separator = wrong_delimiter(header)
    if separator:
        raise UnreadableFile(f"its fields are separated by {separator}, not commas: save it as a "
                             "comma-separated CSV")
    return FileFacts(sha256 or sha256_of(path), size, encoding, line_ending_of(sample), header)
