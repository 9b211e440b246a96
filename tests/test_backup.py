"""The restore drill: back the test session's install up while Superset serves it, restore it into an empty home,
and show the copy is the install: every table's rows, the audit chain, the analysts' logins and the numbers each
sees. Then a backup that was damaged or crafted is refused before anything is restored."""
from __future__ import annotations

import gzip
import json
import shutil
import stat
from dataclasses import replace

import psycopg
import pytest
from superset_helpers import chart_data, dataset_ids, login, worker_port

from safestats import audit, backup, database
from safestats.superset import server

RESTORED_PORT = worker_port("SAFESTATS_TEST_RESTORED_PORT", 8196)
ANALYSTS = ("camden_analyst", "met_analyst")


def _counts(base: str, username: str, password: str, cfg) -> dict[str, int]:
    """What the analyst sees: every dataset's row count, through Superset's chart data API."""
    s = login(base, username, password, cfg=cfg)
    seen = {}
    for name, dataset_id in sorted(dataset_ids(s, base).items()):
        resp = chart_data(s, base, dataset_id)
        seen[name] = resp.json()["result"][0]["data"][0]["count"] if resp.ok else resp.status_code
    assert seen, f"{username} sees no dataset"
    return seen


@pytest.fixture(scope="module")
def drill(cfg, superset, passwords, tmp_path_factory):
    where = tmp_path_factory.mktemp("backups")
    made = backup.backup(where / "nightly", cfg=cfg)         # Superset is serving this install meanwhile
    restored = replace(cfg, home=tmp_path_factory.mktemp("restored") / "home")
    done = backup.restore(made.path, cfg=restored)
    yield {"made": made, "restored": restored, "done": done, "where": where}
    server.stop(restored)
    database.stop(restored)


def test_a_backup_is_private_and_lists_every_file_with_its_checksum(cfg, drill):
    root = drill["made"].path
    manifest = json.loads((root / backup.MANIFEST).read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {backup.MANIFEST}
    assert listed == on_disk
    assert {"files/credentials.json", "files/superset/secret_key", "files/superset/superset.db",
            "roles.sql", "database/toc.dat"} <= listed
    assert not any(p.startswith(("files/superset/sessions", "files/superset/cache")) for p in listed)
    for path in [root, *root.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert backup.last(cfg)["path"] == str(root)


def test_the_restored_install_has_every_row_and_the_same_audit_chain(cfg, drill):
    restored = drill["restored"]
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as original, \
            psycopg.connect(database.endpoint(restored).conninfo(), autocommit=True) as copy:
        before = backup.relation_rows(original)
        after = backup.relation_rows(copy)
        # the original went on after the backup (the backup's own audit event, and logins since)
        assert {k: v for k, v in after.items() if k != "audit.events"} == \
            {k: v for k, v in before.items() if k != "audit.events"}
        assert sum(after.values()) > 10_000
        assert audit.verify(copy).ok
        made = json.loads((drill["made"].path / backup.MANIFEST).read_text())
        events = copy.execute("select event_type, object from audit.events order by chain_position").fetchall()
        assert ("backup_made", str(drill["made"].path)) in events           # taken before the snapshot
        assert events[-1][0] == "backup_restored"                             # written after the proof
        assert len(events) == made["audit_head"]["position"] + 1
        chain = "select row_hash from audit.events where chain_position <= %s order by chain_position"
        position = made["audit_head"]["position"]
        assert copy.execute(chain, (position,)).fetchall() == original.execute(chain, (position,)).fetchall()


def test_every_key_file_comes_back_private(cfg, drill):
    restored = drill["restored"].home
    for rel in ("credentials.json", "user_credentials.json", "superset/secret_key", "superset/admin_password"):
        assert (restored / rel).read_bytes() == (cfg.home / rel).read_bytes(), rel
        assert stat.S_IMODE((restored / rel).stat().st_mode) == 0o600, rel
    assert stat.S_IMODE((restored / "superset").stat().st_mode) == 0o700


def test_analysts_log_in_to_the_restored_superset_and_see_the_same_numbers(cfg, base, passwords, drill,
                                                                            monkeypatch):
    restored = drill["restored"]
    monkeypatch.setenv("SAFESTATS_SUPERSET_BIND", f"127.0.0.1:{RESTORED_PORT}")
    copy_url = server.start(restored, workers=1)
    for username in ANALYSTS:
        assert _counts(copy_url, username, passwords[username], restored) == \
            _counts(base, username, passwords[username], cfg), username


def test_a_restore_refuses_a_home_that_is_not_empty(cfg, drill):
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(drill["made"].path, cfg=cfg)


def test_a_damaged_backup_is_refused_before_anything_is_restored(cfg, drill, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(drill["made"].path, damaged)
    (damaged / "files" / "credentials.json").write_text("{}\n")
    home = replace(cfg, home=tmp_path / "home")
    with pytest.raises(backup.BackupError, match="credentials.json does not match its checksum"):
        backup.restore(damaged, cfg=home)
    assert not home.home.exists()


def test_a_manifest_naming_a_file_outside_the_backup_is_refused(cfg, drill, tmp_path):
    crafted = tmp_path / "crafted"
    shutil.copytree(drill["made"].path, crafted)
    manifest = json.loads((crafted / backup.MANIFEST).read_text())
    manifest["files"].append({"path": "files/../../../etc/cron.d/x", "bytes": 0, "sha256": "0" * 64})
    (crafted / backup.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupError, match="outside the backup"):
        backup.read_manifest(crafted)


def test_a_dump_missing_rows_is_caught_by_the_row_proof(cfg, drill, tmp_path):
    """A dump whose checksums were made to agree but that lost a table's rows: the restore's row count against
    the snapshot's catches it (so the proof can fail)."""
    crafted = tmp_path / "crafted"
    shutil.copytree(drill["made"].path, crafted)
    data = max((crafted / backup.DUMP_DIR).glob("*.dat.gz"), key=lambda p: p.stat().st_size)
    data.write_bytes(gzip.compress(b""))
    manifest = json.loads((crafted / backup.MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] == data.relative_to(crafted).as_posix():
            entry.update(bytes=data.stat().st_size, sha256=backup.sha256(data))
    (crafted / backup.MANIFEST).write_text(json.dumps(manifest))
    home = replace(cfg, home=tmp_path / "home")
    try:
        with pytest.raises(backup.BackupError, match=r"differs from the backup in 1 table"):
            backup.restore(crafted, cfg=home)
    finally:
        database.stop(home)


def test_a_backup_is_refused_inside_the_home_and_over_an_existing_directory(cfg, drill):
    with pytest.raises(backup.BackupError, match="inside SAFESTATS_HOME"):
        backup.backup(cfg.home / "backups" / "x", cfg=cfg)
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.backup(drill["made"].path, cfg=cfg)
