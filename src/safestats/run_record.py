"""The refresh's run record: a JSON file per run under $SAFESTATS_HOME/runs/ and a copy of the latest as
runs/last.json, for the platform team's alerting (and `safestats doctor`).

The record is written when the run starts (status "running", with the process id) and rewritten when it ends, so
a run killed on the way leaves a record that says so: a "running" record whose process is gone was interrupted.
"""
from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from safestats.config import Settings, settings

FORMAT = 1
LAST = "last.json"


def runs_dir(cfg: Settings | None = None) -> Path:
    return (cfg or settings()).home / "runs"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Run:
    """One refresh, recorded from its start."""

    def __init__(self, flow_run_id: str | None = None, cfg: Settings | None = None):
        self.cfg = cfg or settings()
        self.started = _now()
        self.record = {"format": FORMAT, "run": "refresh", "status": "running",
                       "started_at": self.started.isoformat(timespec="seconds"), "ended_at": None,
                       "pid": os.getpid(), "host": socket.gethostname(), "flow_run_id": flow_run_id}
        self.path = runs_dir(self.cfg) / f"refresh-{self.started.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
        self._save()

    def finish(self, summary=None, error: str | None = None) -> dict:
        """The run's outcome (summary: a refresh.RefreshSummary, as far as the run got when it failed)."""
        ended = _now()
        ok = error is None and summary is not None and summary.ok
        self.record.update(status="succeeded" if ok else "failed", error=error,
                           ended_at=ended.isoformat(timespec="seconds"),
                           seconds=round((ended - self.started).total_seconds(), 1))
        if summary is not None:
            self.record.update(outcome(summary))
        self._save()
        return self.record

    def _save(self) -> None:
        text = json.dumps(self.record, indent=2, default=str) + "\n"
        for path in (self.path, self.path.with_name(LAST)):
            _write(path, text)


def outcome(summary) -> dict:
    """What a refresh did, in plain numbers and names."""
    files = summary.files
    result = {
        "files": dict(sorted(summary.file_counts().items())),
        "rows_loaded": sum(f.rows_loaded for f in files if f.status == "loaded"),
        "rows_rejected": sum(f.rows_rejected for f in files if f.status == "loaded"),
        "quarantined": [{"file": f.path.name, "reason": f.message} for f in files if f.status == "quarantined"],
    }
    if summary.build is not None:
        result["build"] = {"success": summary.build.success, "failures": summary.build.failures[:20]}
    if summary.release is not None:
        held = summary.release.checked.reasons()
        result["release"] = {"ok": summary.release.ok, "published_months": sorted(summary.release.published),
                             "held_months": sorted(held)}
    if summary.outputs is not None:
        result["outputs"] = {"written": len(summary.outputs.written), "unchanged": len(summary.outputs.unchanged),
                             "failures": summary.outputs.failures}
    return result


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def last(cfg: Settings | None = None) -> dict | None:
    """The latest run's record; a "running" one whose process is gone is reported as "interrupted"."""
    path = runs_dir(cfg) / LAST
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record["status"] == "running" and record.get("host") == socket.gethostname() and not _alive(record["pid"]):
        record["status"] = "interrupted"
    return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
