"""`safestats doctor` on the test session's install: each check finds what it is there to find, and says what to do."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from safestats import backup, doctor, run_record


def _by_check(findings) -> dict[str, list]:
    found: dict[str, list] = {}
    for f in findings:
        found.setdefault(f.check, []).append(f)
    return found


def _status(findings, check: str) -> set[str]:
    return {f.status for f in _by_check(findings)[check]}


def test_a_healthy_install_passes_the_server_key_file_and_audit_checks(cfg):
    found = doctor.examine(cfg)
    for check in ("server", "server settings", "key files", "audit chain"):
        assert _status(found, check) == {doctor.OK}, _by_check(found)[check]
    assert all(f.fix for f in found if f.status != doctor.OK)


def test_a_key_file_readable_by_others_fails_with_the_chmod_to_run(cfg, undo):
    undo(os.chmod, cfg.credentials_file, 0o600)
    os.chmod(cfg.credentials_file, 0o644)
    (finding,) = [f for f in doctor.key_files(cfg) if str(cfg.credentials_file) in f.detail]
    assert finding.status == doctor.FAIL and finding.fix == f"chmod 600 {cfg.credentials_file}"


def test_a_policy_changed_behind_the_agreements_back_fails(cfg, superuser, undo):
    from safestats.policies import service

    service.apply(cfg)
    assert doctor.policies(cfg)[0].status == doctor.OK
    undo(service.apply, cfg)
    superuser.execute("alter role camden_analyst nologin")
    (finding,) = doctor.policies(cfg)
    assert finding.status == doctor.FAIL and "policies apply" in finding.fix


def test_a_refresh_killed_on_the_way_is_reported_as_interrupted(cfg, undo):
    path = run_record.runs_dir(cfg) / run_record.LAST
    kept = path.read_text() if path.exists() else None
    undo(lambda: path.write_text(kept) if kept is not None else path.unlink(missing_ok=True))
    run = run_record.Run(cfg=cfg)
    record = json.loads(path.read_text())
    assert record["status"] == "running" and doctor.last_refresh(cfg)[0].status == doctor.OK   # this process
    path.write_text(json.dumps({**record, "pid": 2 ** 22 + 1}))      # beyond pid_max: a process that is gone
    (finding,) = doctor.last_refresh(cfg)
    assert finding.status == doctor.FAIL and "killed" in finding.detail
    run.finish(None, error="RuntimeError: boom")
    (finding,) = doctor.last_refresh(cfg)
    assert finding.status == doctor.FAIL and "boom" in finding.detail


def test_a_missing_or_stale_backup_is_reported(cfg, tmp_path, undo):
    path = cfg.home / backup.LAST_BACKUP
    kept = path.read_text() if path.exists() else None
    undo(lambda: path.write_text(kept) if kept is not None else path.unlink(missing_ok=True))
    path.unlink(missing_ok=True)
    assert doctor.last_backup(cfg)[0].status == doctor.FAIL
    (tmp_path / backup.MANIFEST).write_text("{}")
    old = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat(timespec="seconds")
    path.write_text(json.dumps({"path": str(tmp_path), "made_at": old, "bytes": 1}))
    assert doctor.last_backup(cfg)[0].status == doctor.WARN
    path.write_text(json.dumps({"path": str(tmp_path / "gone"), "made_at": old, "bytes": 1}))
    assert "no longer there" in doctor.last_backup(cfg)[0].detail


def test_a_stopped_server_is_one_finding_not_a_crash(cfg, tmp_path):
    stopped = replace(cfg, home=tmp_path / "home")
    found = doctor.examine(stopped)
    assert found[0].check == "server" and found[0].status == doctor.FAIL and "db start" in found[0].fix
    assert {f.check for f in found} >= {"key files", "disk", "last refresh", "last backup"}
