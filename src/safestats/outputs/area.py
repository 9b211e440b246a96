"""The outputs area: `$SAFESTATS_HOME/outputs/`, outside any web root. Every file is written atomically and
listed in `manifest.json` with its audience; the outputs page serves only files the manifest lists.

A set of outputs is published whole or not at all: `write` keeps each file in memory, `save` writes them and
then the manifest, `discard` drops them (a set that failed half way leaves the files last published as they
were, so what the manifest lists is always what is on disk)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from safestats.config import Settings, settings
from safestats.outputs.audience import receivers

MANIFEST = "manifest.json"
SAFE_PATH = re.compile(r"^[a-z0-9_]+(/[A-Za-z0-9_.-]+)+$")

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Output:
    """One file an organisation may receive.

    kind: trend_report, core_dataset, hospital_report, hospital_league_table, hospital_submission_gaps,
          supplier_rejects, supplier_summary.
    audience: who may receive it (audience.py): `partners`, `violence_core`, `site:<SITE>`, `istv_programme`,
          `supplier:<agency>`.
    """
    path: str           # relative to the area, stable: the same output next refresh has the same path
    kind: str
    title: str
    period: str         # 2025Q4, 2025-12, or the refresh's date for supplier feedback
    subject: str        # london, a borough code, a site code or an agency
    audience: str
    receivers: list        # audience.receivers(audience): the outputs page's test
    media_type: str
    bytes: int
    sha256: str
    built_at: str


def root(cfg: Settings | None = None) -> Path:
    return (cfg or settings()).home / "outputs"


def csv_bytes(header: list[str], rows) -> bytes:
    """Every CSV output's form: UTF-8, a header row, CRLF line ends (as spreadsheets and RFC 4180 expect)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Area:
    """Writes outputs under one root and keeps their manifest."""

    def __init__(self, base: Path):
        self.base = base
        self.written: list[Output] = []
        self._pending: dict[str, bytes] = {}

    def write(self, path: str, data: bytes | str, *, kind: str, title: str, period: str, subject: str,
              audience: str) -> Output:
        if not SAFE_PATH.match(path) or ".." in path:
            raise ValueError(f"not an output path: {path!r}")
        if isinstance(data, str):
            data = data.encode("utf-8")
        suffix = Path(path).suffix
        if suffix not in MEDIA_TYPES:
            raise ValueError(f"no media type for {path!r}")
        self._pending[path] = data
        out = Output(path=path, kind=kind, title=title, period=period, subject=subject, audience=audience,
                     receivers=receivers(audience),
                     media_type=MEDIA_TYPES[suffix], bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                     built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.written.append(out)
        return out

    def listed(self) -> list[Output]:
        return read_manifest(self.base)

    def discard(self) -> None:
        """Forget the files written since the last save (a set that failed)."""
        self.written = [o for o in self.written if o.path not in self._pending]
        self._pending.clear()

    def save(self, replacing: str | None = None) -> list[Output]:
        """The files written since the last save, then the manifest: what was listed before, with this build's
        outputs replacing those of the same path. With `replacing` (a folder, e.g. `trend_reports/2025Q4/`), the
        set made now replaces the whole folder: a file listed there before and not made now (an edition no
        agreement calls for any more) is unlisted, then deleted."""
        made = set(self._pending)
        for path, data in self._pending.items():
            _atomic_write(self.base / path, data)
        self._pending.clear()
        by_path = {o.path: o for o in read_manifest(self.base) if (self.base / o.path).is_file()}
        gone = [p for p in by_path if replacing and p.startswith(replacing) and p not in made]
        for path in gone:
            del by_path[path]
        by_path.update({o.path: o for o in self.written})
        outputs = sorted(by_path.values(), key=lambda o: o.path)
        _atomic_write(self.base / MANIFEST, json.dumps({"outputs": [asdict(o) for o in outputs]}, indent=1).encode())
        for path in gone:
            (self.base / path).unlink(missing_ok=True)
        return outputs


def read_manifest(base: Path) -> list[Output]:
    try:
        data = json.loads((base / MANIFEST).read_text())
    except FileNotFoundError:
        return []
    return [Output(**o) for o in data["outputs"]]
