"""`safestats backup` and `safestats restore`: one consistent copy of an install, and an empty home made from it.

A backup is a directory (mode 0700, every file 0600):
- `database/`: pg_dump's directory format of the warehouse, taken in one exported snapshot, so analysts and a
  refresh can go on while it runs;
- `roles.sql`: the server's roles (pg_dumpall --roles-only: named users, organisations, service roles, their
  password verifiers, memberships and per-role settings), which live outside the database;
- `files/`: the home's own files: the per-install credentials, Superset's secret key, provisioning password and
  metadata (SQLite, copied through its backup API while Superset runs), the outputs area, the landing folder
  (quarantined extracts exist nowhere else) and the server's session logs (`safestats audit sessions`);
- `manifest.json`, written last: what was taken and when, the row count of every table in the same snapshot, the
  audit chain's head in that snapshot, and each file's size and SHA-256.

It is assembled beside its destination and renamed into place once the manifest is written, so an interrupted
backup never looks like a backup. A restore checks every checksum before it touches anything, copies back only
the files the manifest lists, and afterwards proves the copy: every table's rows, the audit chain's head, and
the whole chain verified. Superset's server-side sessions and caches are not kept: after a restore everyone logs
in again."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

import psycopg

from safestats import audit, database, warehouse
from safestats.config import Settings, settings

FORMAT = 1
MANIFEST = "manifest.json"
DUMP_DIR = "database"
ROLES_FILE = "roles.sql"
FILES_DIR = "files"
DUMP_JOBS = 2
LAST_BACKUP = "last_backup.json"      # in the home: when and where the last backup went (`safestats doctor`)

# Home-relative paths copied into files/. Missing ones are skipped (a new install has no outputs yet).
HOME_FILES = ("credentials.json", "user_credentials.json", "superset/secret_key", "superset/admin_password",
              "superset/initialised", "superset/organisations.json", "superset/conditions.json",
              "superset/dictionary.json")
HOME_FOLDERS = ("outputs", "landing", "superset/uploads", "superset/revocations", "pgdata/" + database.LOG_DIRECTORY)
SUPERSET_METADATA = "superset/superset.db"
# Left out on purpose: pgdata (the dump stands for it), Superset's sessions (a restore logs everyone out) and
# caches, dbt's target and logs, MetricFlow's and Prefect's working files (all remade on first use).


class BackupError(RuntimeError):
    """A one-line, user-facing reason why a backup or restore cannot go on."""


@dataclass
class Restored:
    backup: Path
    made_at: str
    relations: int
    rows: int
    audit_events: int
    files: int


@dataclass
class Made:
    path: Path
    bytes: int
    relations: int
    rows: int
    seconds: float
    skipped: list[str] = field(default_factory=list)


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _bin(name: str) -> str:
    return str(database._pg_bin(name))


def _run(args: list[str], what: str) -> None:
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise BackupError(f"{what} failed: " + " | ".join(tail))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relation_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Rows of every table and materialised view outside the system schemas (partitions one by one; a
    partitioned parent holds none of its own)."""
    names = conn.execute(
        "select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname not like 'pg\\_%' order by 1").fetchall()
    return {name: conn.execute(f"select count(*) from {name}").fetchone()[0] for (name,) in names}


def audit_head(conn: psycopg.Connection) -> dict:
    position, head = conn.execute("select chain_position, row_hash from private.audit_chain_head").fetchone()
    return {"position": position, "hash": head}


# ---------------------------------------------------------------------------------------------------------
# backup
# ---------------------------------------------------------------------------------------------------------

def backup(destination: Path, *, landing: bool = True, cfg: Settings | None = None, say: Say = _quiet) -> Made:
    """Back the install up into `destination` (a new directory). Usable while analysts and a refresh work."""
    cfg = cfg or settings()
    started = time.monotonic()
    destination = destination.resolve()
    if destination.exists():
        raise BackupError(f"{destination} already exists: a backup goes into a new directory")
    if destination.is_relative_to(cfg.home):
        raise BackupError(f"{destination} is inside SAFESTATS_HOME {cfg.home}: a backup kept with what it "
                          "backs up is lost with it")
    bootstrap = database.endpoint(cfg)
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700, parents=True)
    audit.write("backup_made", "safestats backup", object=str(destination), cfg=cfg)
    try:
        made = _take(partial, bootstrap, landing=landing, cfg=cfg, say=say)
        partial.rename(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    made.path = destination
    made.seconds = time.monotonic() - started
    _record_last(cfg, made)
    return made


def _take(root: Path, bootstrap: database.Endpoint, *, landing: bool, cfg: Settings, say: Say) -> Made:
    made_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with psycopg.connect(bootstrap.conninfo()) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
        server_version = conn.execute("show server_version").fetchone()[0]
        say(f"dumping the database in snapshot {snapshot} ({DUMP_JOBS} jobs)")
        dump = subprocess.Popen(
            [_bin("pg_dump"), "--dbname", bootstrap.url(), "--format", "directory", "--jobs", str(DUMP_JOBS),
             "--compress", "gzip:1", "--snapshot", snapshot, "--file", str(root / DUMP_DIR)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            say("counting every table's rows in the same snapshot")
            rows = relation_rows(conn)
            head = audit_head(conn)
        finally:
            _, errors = dump.communicate()
        if dump.returncode != 0:
            raise BackupError("pg_dump failed: " + " | ".join(errors.strip().splitlines()[-3:]))
    say("dumping the roles")
    _run([_bin("pg_dumpall"), "--dbname", replace(bootstrap, dbname="postgres").url(), "--roles-only",
          "--file", str(root / ROLES_FILE)], "pg_dumpall")
    say("copying the home's files")
    skipped = _copy_home(cfg.home, root / FILES_DIR, landing=landing)
    files = _checksums(root)
    manifest = {
        "format": FORMAT, "made_at": made_at, "home": str(cfg.home), "server_version": server_version,
        "database": bootstrap.dbname, "relations": rows, "audit_head": head, "skipped": skipped, "files": files,
    }
    _write_private(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return Made(root, sum(f["bytes"] for f in files), len(rows), sum(rows.values()), 0.0, skipped)


def _copy_home(home: Path, into: Path, *, landing: bool) -> list[str]:
    skipped = []
    for rel in HOME_FILES:
        if (home / rel).is_file():
            _copy_file(home / rel, into / rel)
    for rel in HOME_FOLDERS:
        if rel == "landing" and not landing:
            skipped.append("landing (--no-landing)")
            continue
        for path in sorted((home / rel).rglob("*")) if (home / rel).is_dir() else ():
            if path.is_file() and not path.name.endswith((".tmp", ".lock")):
                _copy_file(path, into / path.relative_to(home))
    metadata = home / SUPERSET_METADATA
    runtime = home / "superset" / "runtime.json"
    external = runtime.is_file() and json.loads(runtime.read_text()).get("metadata_uri")
    if external:
        skipped.append("Superset's metadata (an external database: back it up with its own server's tools)")
    elif metadata.is_file():
        target = into / SUPERSET_METADATA
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with sqlite3.connect(f"file:{metadata}?mode=ro", uri=True) as source, sqlite3.connect(target) as copy:
            source.backup(copy)      # a consistent copy while Superset writes
        os.chmod(target, 0o600)
    return skipped


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)


def _checksums(root: Path) -> list[dict]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            os.chmod(path, 0o600)
            files.append({"path": path.relative_to(root).as_posix(), "bytes": path.stat().st_size,
                          "sha256": sha256(path)})
    for path in root.rglob("*"):
        if path.is_dir():
            os.chmod(path, 0o700)
    return files


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _record_last(cfg: Settings, made: Made) -> None:
    record = {"path": str(made.path), "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "bytes": made.bytes, "relations": made.relations, "rows": made.rows,
              "seconds": round(made.seconds, 1)}
    (cfg.home / LAST_BACKUP).write_text(json.dumps(record, indent=2) + "\n")


def last(cfg: Settings | None = None) -> dict | None:
    path = (cfg or settings()).home / LAST_BACKUP
    return json.loads(path.read_text()) if path.is_file() else None


# ---------------------------------------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------------------------------------

def read_manifest(backup_dir: Path) -> dict:
    """The manifest, once every file it lists is present with its checksum. Raises BackupError otherwise."""
    path = backup_dir / MANIFEST
    if not path.is_file():
        raise BackupError(f"{backup_dir} is not a SafeStats backup (no {MANIFEST}): an interrupted backup "
                          "leaves only a .partial directory")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{backup_dir} is a backup of format {manifest.get('format')}; this SafeStats reads "
                          f"format {FORMAT}")
    for entry in manifest["files"]:
        rel = PurePosixPath(entry["path"])
        if rel.is_absolute() or ".." in rel.parts or rel.parts[0] == MANIFEST:
            raise BackupError(f"{backup_dir}: the manifest lists {entry['path']}, outside the backup")
        path = backup_dir / rel
        if not path.is_file():
            raise BackupError(f"{backup_dir}: {entry['path']} is missing")
        if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            raise BackupError(f"{backup_dir}: {entry['path']} does not match its checksum: the backup is damaged "
                              "or was changed")
    return manifest


def restore(backup_dir: Path, *, cfg: Settings | None = None, say: Say = _quiet) -> Restored:
    """Make SAFESTATS_HOME (empty or absent) the install the backup was taken of, and prove it."""
    cfg = cfg or settings()
    backup_dir = backup_dir.resolve()
    if cfg.database_url:
        raise BackupError("restore makes an embedded server in an empty home; for the server in "
                          "SAFESTATS_DATABASE_URL run pg_restore on the backup's database/ (docs/operations.md)")
    if cfg.home.exists() and any(cfg.home.iterdir()):
        raise BackupError(f"SAFESTATS_HOME {cfg.home} is not empty: restore only into an empty home")
    say("checking every checksum")
    manifest = read_manifest(backup_dir)
    say("starting a new server")
    bootstrap = database.start(cfg)
    say("restoring the roles")
    database.run_psql(replace(bootstrap, dbname="postgres"),
                      input_text=_roles_sql((backup_dir / ROLES_FILE).read_text(), bootstrap.user))
    say("restoring the database")
    with psycopg.connect(bootstrap.conninfo(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'drop database "{database.DATABASE_NAME}"')
    _run([_bin("pg_restore"), "--dbname", replace(bootstrap, dbname="postgres").url(),
          "--create", "--exit-on-error", "--jobs", str(DUMP_JOBS), str(backup_dir / DUMP_DIR)], "pg_restore")
    say("copying the home's files back")
    copied = _restore_files(backup_dir, manifest, cfg.home)
    warehouse.setup(cfg)      # idempotent: the restored roles' passwords are those of the restored credentials
    say("checking every table's rows and the audit chain")
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        rows = relation_rows(conn)
        head = audit_head(conn)
        chain = audit.verify(conn)
    _compare(manifest, rows, head, chain)
    audit.write("backup_restored", "safestats restore", object=str(backup_dir),
                detail={"made_at": manifest["made_at"], "relations": len(rows)}, cfg=cfg)
    return Restored(backup_dir, manifest["made_at"], len(rows), sum(rows.values()), chain.events, copied)


def _roles_sql(text: str, bootstrap_user: str) -> str:
    """roles.sql without the bootstrap superuser's own lines: the new server made it already."""
    mine = (f"CREATE ROLE {bootstrap_user};", f"ALTER ROLE {bootstrap_user} WITH ")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(mine))


def _restore_files(backup_dir: Path, manifest: dict, home: Path) -> int:
    prefix = FILES_DIR + "/"
    copied = 0
    for entry in manifest["files"]:
        if not entry["path"].startswith(prefix):
            continue
        rel = entry["path"][len(prefix):]
        target = home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(backup_dir / entry["path"], target)
        os.chmod(target, 0o600 if _private(rel) else 0o640)
        if rel.startswith("pgdata/") and os.geteuid() == 0:
            shutil.chown(target, database.EMBEDDED_OS_USER, database.EMBEDDED_OS_USER)
        copied += 1
    (home / "superset").mkdir(exist_ok=True)
    (home / "superset").chmod(0o700)
    return copied


def _private(rel: str) -> bool:
    return rel in HOME_FILES or rel == SUPERSET_METADATA or rel.startswith(("pgdata/", "superset/"))


def _compare(manifest: dict, rows: dict[str, int], head: dict, chain: audit.Verification) -> None:
    expected = manifest["relations"]
    differ = [f"{name}: {expected.get(name)} in the backup, {rows.get(name)} restored"
              for name in sorted(set(expected) | set(rows)) if expected.get(name) != rows.get(name)]
    if differ:
        raise BackupError(f"the restored database differs from the backup in {len(differ)} table(s): "
                          + "; ".join(differ[:5]))
    if head != manifest["audit_head"]:
        raise BackupError(f"the restored audit chain's head is {head}, the backup's was {manifest['audit_head']}")
    if not chain.ok:
        raise BackupError(f"the restored audit chain does not verify: {chain.reason}")
