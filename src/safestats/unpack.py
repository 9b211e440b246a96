"""What arrived, as the files the ingest reads: archives unpacked, UTF-16 text re-encoded as UTF-8.

Decided by the bytes, not the name: a gzip file named `.csv` is unpacked like `name.csv.gz`; a `.zip`
gives each of its files to the ingest as a file of its own (an archive inside it is refused by name)."""
from __future__ import annotations

import codecs
import gzip
import zipfile
from dataclasses import dataclass
from pathlib import Path

from safestats.sniff import UnreadableFile

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
REFUSED_ARCHIVES = (".tar", ".tgz", ".7z", ".rar", ".bz2", ".xz", ".zst")  # only zip and gzip are unpacked
UNPACKED_LIMIT = 16 << 30          # an archive that unpacks beyond this is refused, not unpacked
UTF16_BOMS = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


@dataclass(frozen=True)
class Arrival:
    name: str          # the name the dataset is recognised by
    path: Path         # where its bytes are now
    recorded_as: str   # what raw._loads.file_path records (the archive and the member)


def _head(path: Path, n: int = 4) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def is_archive(path: Path) -> bool:
    head = _head(path)
    return head.startswith(GZIP_MAGIC) or (head == ZIP_MAGIC and path.suffix.lower() not in WORKBOOK_SUFFIXES)


def _copy_limited(src, dest: Path, what: str) -> None:
    written = 0
    with dest.open("wb") as out:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            written += len(chunk)
            if written > UNPACKED_LIMIT:
                raise UnreadableFile(f"{what} unpacks to more than {UNPACKED_LIMIT >> 30} GiB; refused")
            out.write(chunk)


def refused_archive(name: str) -> str | None:
    """The suffix of an archive kind the ingest does not unpack, by name."""
    return next((s for s in REFUSED_ARCHIVES if name.lower().endswith(s)), None)


def unpack(path: Path, name: str, scratch: Path) -> list[Arrival]:
    """The files inside an archive (call only when `is_archive`)."""
    if _head(path).startswith(GZIP_MAGIC):
        inner = name[:-3] if name.lower().endswith(".gz") else name
        dest = scratch / "gzip"
        dest.mkdir()
        try:
            with gzip.open(path, "rb") as src:
                _copy_limited(src, dest / "member", "the gzip file")
        except (OSError, EOFError) as exc:
            raise UnreadableFile(f"it is a gzip file that cannot be unpacked: {exc}") from None
        return [Arrival(inner, dest / "member", f"{path} (gzip) -> {inner}")]
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(f"it is a zip archive that cannot be opened: {exc}") from None
    arrivals = []
    with archive:
        for i, info in enumerate(m for m in archive.infolist() if not m.is_dir()):
            member = Path(info.filename).name
            if member.startswith(".") or info.filename.startswith("__MACOSX/"):
                continue            # an archiver's bookkeeping, not an extract
            dest = scratch / f"zip-{i}"
            dest.mkdir()
            try:
                with archive.open(info) as src:
                    _copy_limited(src, dest / "member", f"{member} in the zip archive")
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
                raise UnreadableFile(f"its member {member!r} cannot be unpacked: {exc}") from None
            arrivals.append(Arrival(member, dest / "member", f"{path} (zip) -> {info.filename}"))
    if not arrivals:
        raise UnreadableFile("it is a zip archive with no files in it")
    return arrivals


def utf16_encoding(path: Path) -> str | None:
    """utf-16-le/-be for UTF-16 text (with a byte order mark, or ASCII-range text every other byte)."""
    head = _head(path, 512)
    for bom, encoding in UTF16_BOMS.items():
        if head.startswith(bom):
            return encoding
    if len(head) >= 16:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
    return None


def as_utf8(path: Path, encoding: str, out: Path) -> Path:
    """UTF-16 text re-encoded as UTF-8 (the byte order mark dropped), streamed."""
    try:
        with path.open("r", encoding=encoding, newline="") as src, out.open("w", encoding="utf-8",
                                                                            newline="") as dest:
            first = True
            for chunk in iter(lambda: src.read(1 << 20), ""):
                if first:
                    chunk, first = chunk.lstrip("\ufeff"), False
                dest.write(chunk)
    except UnicodeError as exc:
        raise UnreadableFile(f"it looks like {encoding.upper()} text but is not: {exc}") from None
    return out
