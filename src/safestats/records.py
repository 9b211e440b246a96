"""The records of a CSV extract, counted independently of PostgreSQL's parser.

A record is one physical line, unless a correctly quoted field holds a line break (then the lines up to
the quote's close are one record). A quote that opens a field and does not close on its line is not
allowed to swallow the lines after it: that line alone is a bad record, and reading goes on at the next
line. Blank lines are not records. Every record keeps the number of its first line in the file.

`FileShape` is the cheap whole-file look that decides whether PostgreSQL's own CSV parser can be trusted
with the file (it can when every quote is where RFC 4180 allows it and no record spans lines);
`read_records` is the careful reading used otherwise."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np

LINE_BREAK = re.compile(rb"\r\n|\n|\r")
# A line of strictly quoted CSV: every field plain (no quote at all) or wholly quoted with "" as the escape.
_FIELD = rb'(?:"(?:[^"]|"")*+"|[^,"\r\n]*+)'
STRICT_LINE = re.compile(rb"%s(?:,%s)*+" % (_FIELD, _FIELD))
MAX_RECORD_LINES = 50   # a quoted field may span at most this many lines before it counts as unbalanced


CUT_BYTES = 16 << 20    # the shape notes a cut about every 16 MB, so a large file can be loaded in pieces
COUNT_CHUNK = 1 << 20   # bytes counted at a time (fits in a core's cache)
LF, CR = 0x0A, 0x0D


@dataclass(frozen=True)
class FileShape:
    data_lines: int        # physical lines after the header (blank lines included)
    quotes_ok: bool        # every quote sits where strict CSV allows it, and no quoted field spans lines
    # (offset, lines before it, the header included): each offset just after an LF, about every CUT_BYTES
    cuts: tuple[tuple[int, int], ...] = ()


def _cut_offsets(data: bytes, every: int) -> list[int]:
    """Offsets just after the first LF at or past each multiple of `every` (none past the last byte)."""
    offsets: list[int] = []
    for target in range(every, len(data), every):
        if offsets and target < offsets[-1]:
            continue
        cut = data.find(b"\n", target) + 1
        if cut <= 0 or cut >= len(data):
            break
        offsets.append(cut)
    return offsets


def count_byte(data: bytes, byte: int, start: int = 0, end: int | None = None) -> int:
    """How often `byte` occurs in data[start:end]: numpy compares a megabyte at a time (several times faster
    than `bytes.count` on a large file, and it lets go of the interpreter meanwhile)."""
    end = len(data) if end is None else end
    if end - start < COUNT_CHUNK:
        return data.count(bytes([byte]), start, end)
    values = np.frombuffer(data, dtype=np.uint8)
    return sum(int(np.count_nonzero(values[at:min(at + COUNT_CHUNK, end)] == byte))
               for at in range(start, end, COUNT_CHUNK))


def _line_breaks(data: bytes, cuts: list[int]) -> tuple[int, list[int]] | None:
    """How many line breaks, and how many of them fall before each cut, when the file uses one kind (LF,
    CRLF or CR); None when it mixes them. Cuts follow an LF: a file of CRs alone has none."""
    before, start, lf = [], 0, 0
    for cut in cuts:
        lf += count_byte(data, LF, start, cut)
        before.append(lf)
        start = cut
    lf += count_byte(data, LF, start)
    cr = count_byte(data, CR) if b"\r" in data else 0
    if not cr:
        return lf, before
    if not lf:
        return cr, []
    return (lf, before) if lf == cr == data.count(b"\r\n") else None


def shape_of(data: bytes) -> FileShape:
    """Count the lines (noting cuts about every CUT_BYTES) and check the quotes of the lines that have any:
    C-speed work, a small fraction of what loading the file costs."""
    offsets = _cut_offsets(data, CUT_BYTES)
    breaks = _line_breaks(data, offsets)
    if breaks is None:
        return FileShape(len(split_lines(data)) - 1, False)
    lines = breaks[0] + (0 if data.endswith((b"\n", b"\r")) else 1)
    quotes_ok = b'"' not in data or all(
        STRICT_LINE.fullmatch(line.rstrip(b"\r")) for line in data.split(b"\n" if b"\n" in data else b"\r")
        if b'"' in line)
    return FileShape(lines - 1, quotes_ok, tuple(zip(offsets, breaks[1])))


def split_lines(data: bytes) -> list[bytes]:
    """The physical lines, without their breaks (any mix of LF, CRLF and CR)."""
    lines = LINE_BREAK.split(data)
    if lines and lines[-1] == b"":
        lines.pop()                                       # the final line break ends the last line
    return lines


@dataclass(frozen=True)
class Undecodable:
    """A line whose bytes are not text in the file's encoding (kept in place so numbering stays right)."""
    reason: str
    text: str          # the line with its undecodable bytes shown as \\xNN


@dataclass
class Record:
    number: int                  # 1-based among the file's records (the header is not one)
    line: int                    # the file line it starts on (the header is line 1)
    fields: list[str] | None     # None when the record is bad
    problem: str = ""            # why it is bad
    text: str = ""               # a bad record's line as read (NUL shown as \\0), for the rejects table


def _parse(text: str) -> list[str] | None:
    """One record's text as fields, or None when its quotes are not strict CSV or it ends inside a quote."""
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _opens_a_quote(text: str) -> bool:
    """True when the text ends inside a quoted field (an odd number of quotes in quoted position)."""
    return text.count('"') % 2 == 1


def read_records(lines: list[str | Undecodable], width: int) -> Iterator[Record]:
    """`lines` are the file's decoded physical lines without their breaks; the header is lines[0]."""
    number = 0
    i = 1
    while i < len(lines):
        text = lines[i]
        start = i
        i += 1
        if isinstance(text, Undecodable):
            number += 1
            yield Record(number, start + 1, None, text.reason, text.text)
            continue
        if not text.strip():
            continue                                      # a blank line is not a record
        number += 1
        if "\x00" in text:
            yield Record(number, start + 1, None, "the line holds a NUL byte (not text)", text.replace("\0", "\\0"))
            continue
        fields = _parse(text)
        if fields is None and _opens_a_quote(text):
            # A quoted field with a line break: take following lines until the record closes strictly
            # with the header's width; otherwise the quote is unbalanced and this line alone is bad.
            joined, j = text, i
            while j < len(lines) and j - start < MAX_RECORD_LINES and not isinstance(lines[j], Undecodable):
                joined += "\n" + lines[j]
                j += 1
                if not _opens_a_quote(joined):
                    candidate = _parse(joined)
                    if candidate is not None and len(candidate) == width:
                        fields, i = candidate, j
                    break
            if fields is None:
                yield Record(number, start + 1, None,
                             f"unbalanced quote: a quoted field opened on line {start + 1} is not closed on "
                             "that line (the line is rejected; the lines after it are read on their own)", text)
                continue
        elif fields is None:
            yield Record(number, start + 1, None,
                         f"misplaced quote on line {start + 1}: a quoted field must be followed by a comma "
                         "or the end of the line", text)
            continue
        yield Record(number, start + 1, fields)


def decoded_lines(data: bytes, encoding: str) -> list[str | Undecodable]:
    """The file's physical lines, each decoded on its own. In a UTF-8 file a line that is not UTF-8 is
    an `Undecodable` (it is never guessed to be another encoding); a Windows-1252 file decodes whole."""
    lines = split_lines(data)
    out: list[str | Undecodable] = []
    codec = "utf-8" if encoding.startswith("utf-8") else encoding
    for n, raw in enumerate(lines):
        if n == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            out.append(raw.decode(codec))
        except UnicodeDecodeError as exc:
            name = "UTF-8" if codec == "utf-8" else "Windows-1252"
            out.append(Undecodable(f"line {n + 1} is not {name} text (byte 0x{raw[exc.start]:02X} at "
                                   f"position {exc.start + 1}), though the rest of the file is {name}",
                                   raw.decode(codec, "backslashreplace").replace("\0", "\\0")))
    return out


def has_utf8_text(data: bytes) -> bool:
    """True when the bytes hold real multi-byte UTF-8 characters (so a Windows-1252 byte elsewhere makes
    the file mixed, not Windows-1252)."""
    return re.search(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}", data) is not None
