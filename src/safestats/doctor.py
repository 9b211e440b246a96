"""`safestats doctor`: check a running install and say what to fix.

Each check looks at one thing an operator would otherwise find out about from an analyst or an auditor: the server
and its settings, roles and policies against the agreements, the key files and their modes, Superset's
configuration, free disk, the last refresh, the last backup and the audit chain. A check that cannot run (the
server is down) is itself a finding, never a crash."""
from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import psycopg

from safestats import audit, backup, credentials, database, run_record
from safestats.config import Settings, settings

OK, WARN, FAIL = "ok", "warn", "fail"
REFRESH_MAX_AGE = timedelta(days=35)      # the refresh runs monthly
BACKUP_MAX_AGE = timedelta(hours=26)      # backups are taken nightly
MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""


Check = Callable[[Settings], list[Finding]]


def server(cfg: Settings) -> list[Finding]:
    try:
        ep = database.endpoint(cfg)
        version = database.check_server(ep)
    except database.DatabaseError as exc:
        return [Finding("server", FAIL, str(exc), "`safestats db start`")]
    found = [Finding("server", OK, f"PostgreSQL {version} at {ep.url()}")]
    if cfg.database_url:
        return found + [Finding("server settings", WARN, "an external server: its logging, preloaded libraries and "
                                "storage settings are its operator's",
                                "configure it as docs/audit.md and docs/architecture.md describe")]
    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        live = database.live_settings(conn, database.SERVER_SETTINGS)
    wrong = [f"{name}={live.get(name)!r} (want {value!r})" for name, value in database.SERVER_SETTINGS.items()
             if live.get(name) != value]
    if wrong:
        return found + [Finding("server settings", FAIL, "; ".join(wrong),
                                "`safestats db stop` then `safestats db start` (it sets them and restarts)")]
    return found + [Finding("server settings", OK, "session logging, pg_stat_statements and storage as required")]


def policies(cfg: Settings) -> list[Finding]:
    from safestats.policies import service

    try:
        _, _, lines = service.plan(cfg)
    except Exception as exc:  # noqa: BLE001 - any reason the agreements cannot be compared is the finding
        return [Finding("roles and policies", FAIL, f"cannot compare with the agreements: {exc}",
                        "fix the agreements in access_policies/ (`safestats policies plan` says where)")]
    changes = [line for line in lines if line.strip()]
    if changes:
        return [Finding("roles and policies", FAIL, f"{len(changes)} difference(s) from the agreements, e.g. "
                        + changes[0].strip(), "`safestats policies plan`, then `safestats policies apply`")]
    return [Finding("roles and policies", OK, "the database matches every agreement")]


def key_files(cfg: Settings) -> list[Finding]:
    from safestats.superset import server as superset

    p = superset.paths(cfg)
    private = {cfg.credentials_file: 0o600, credentials.user_passwords_file(cfg): 0o600, p.secret_key: 0o600,
               p.admin_password_file: 0o600, p.dir: 0o700}
    if not cfg.database_url:
        private[cfg.pgdata] = 0o700
    required = {cfg.credentials_file} | ({p.secret_key} if (p.dir / "runtime.json").exists() else set())
    found = []
    for path, mode in private.items():
        if not path.exists():
            if path in required:
                found.append(Finding("key files", FAIL, f"{path} is missing",
                                     "restore it from the last backup (`safestats restore`): a new one would not "
                                     "match the roles' passwords or what Superset encrypted"))
            continue
        actual = stat.S_IMODE(path.stat().st_mode)
        if actual & ~mode:
            found.append(Finding("key files", FAIL, f"{path} is mode {actual:o}, readable beyond its owner",
                                 f"chmod {mode:o} {path}"))
    return found or [Finding("key files", OK, f"{len(private)} key files and folders private")]


def superset_config(cfg: Settings) -> list[Finding]:
    from safestats.superset import server as superset

    p = superset.paths(cfg)
    runtime = p.dir / "runtime.json"
    if not runtime.is_file():
        return [Finding("superset", WARN, "never started in this home", "`safestats superset start`")]
    found = []
    try:
        ep = database.endpoint(cfg)
        settings_ = json.loads(runtime.read_text())
        if (settings_["db_host"], settings_["db_port"]) != (ep.host, ep.port):
            found.append(Finding("superset", FAIL, f"configured for {settings_['db_host']}:{settings_['db_port']}, "
                                 f"the warehouse is at {ep.host}:{ep.port}", "`safestats superset start`"))
    except database.DatabaseError:
        pass    # the server check says so
    state = superset.status(cfg)
    if not state["running"]:
        found.append(Finding("superset", WARN, "not running", "`safestats superset start`"))
    elif not state["healthy"]:
        found.append(Finding("superset", FAIL, f"running (pid {state['pid']}) but {state['url']}/health does not "
                             "answer", f"see {p.logfile}; `safestats superset stop` then `start`"))
    return found or [Finding("superset", OK, f"serving {state['url']}")]


def disk(cfg: Settings) -> list[Finding]:
    free = shutil.disk_usage(cfg.home if cfg.home.exists() else cfg.home.parent).free
    needed = MIN_FREE_BYTES
    try:
        with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        needed = max(needed, size // 2)     # a full rebuild writes new marts before it drops the old ones
    except database.DatabaseError:
        size = None
    text = f"{free / 1e9:,.1f} GB free" + (f"; the warehouse takes {size / 1e9:,.1f} GB" if size else "")
    if free < MIN_FREE_BYTES:
        return [Finding("disk", FAIL, text, "free space: a refresh or backup may stop half-way (they roll back)")]
    if free < needed:
        return [Finding("disk", WARN, text + "; a full rebuild may not fit", "free space before `refresh --full`")]
    return [Finding("disk", OK, text)]


def _age(text: str) -> timedelta:
    return datetime.now(timezone.utc) - datetime.fromisoformat(text)


def last_refresh(cfg: Settings) -> list[Finding]:
    record = run_record.last(cfg)
    if record is None:
        return [Finding("last refresh", WARN, "no refresh recorded in this home", "`safestats refresh`")]
    when = record["started_at"]
    if record["status"] == "running":
        return [Finding("last refresh", OK, f"running since {when} (pid {record['pid']})")]
    if record["status"] == "interrupted":
        return [Finding("last refresh", FAIL, f"started {when} and was killed before it finished (pid "
                        f"{record['pid']})", "`safestats refresh` again: it resumes safely")]
    if record["status"] == "failed":
        return [Finding("last refresh", FAIL, f"failed {record['ended_at']}: {record.get('error')}",
                        f"see {run_record.runs_dir(cfg)} and the Prefect UI; fix, then `safestats refresh`")]
    quarantined = len(record.get("quarantined", []))
    detail = f"succeeded {record['ended_at']} in {record.get('seconds')} s" + (
        f"; {quarantined} file(s) quarantined" if quarantined else "")
    if _age(record["ended_at"]) > REFRESH_MAX_AGE:
        return [Finding("last refresh", WARN, detail + ", more than a month ago", "is the schedule running?")]
    return [Finding("last refresh", WARN if quarantined else OK, detail,
                    "read the supplier feedback and ask the agency for a corrected file" if quarantined else "")]


def last_backup(cfg: Settings) -> list[Finding]:
    record = backup.last(cfg)
    if record is None:
        return [Finding("last backup", FAIL, "no backup taken from this home", "`safestats backup --to DIR`")]
    detail = f"{record['made_at']} to {record['path']} ({record['bytes'] / 1e6:,.0f} MB)"
    if not (Path(record["path"]) / backup.MANIFEST).is_file():
        return [Finding("last backup", FAIL, detail + ", which is no longer there", "`safestats backup --to DIR`")]
    if _age(record["made_at"]) > BACKUP_MAX_AGE:
        return [Finding("last backup", WARN, detail + ", more than a day ago", "`safestats backup --to DIR`")]
    return [Finding("last backup", OK, detail)]


def audit_chain(cfg: Settings) -> list[Finding]:
    try:
        verified = audit.verify_install(cfg)
    except database.DatabaseError:
        return []    # the server check says so
    if not verified.ok:
        return [Finding("audit chain", FAIL, verified.reason,
                        "treat as an incident: docs/audit.md, 'When the chain does not verify'")]
    return [Finding("audit chain", OK, f"{verified.events} events, every link verified")]


CHECKS: tuple[Check, ...] = (server, policies, key_files, superset_config, disk, last_refresh, last_backup,
                             audit_chain)


def examine(cfg: Settings | None = None) -> list[Finding]:
    cfg = cfg or settings()
    found = server(cfg)
    if found[0].status == FAIL:      # the other checks read the database: say so once
        return found + [f for check in (key_files, disk, last_refresh, last_backup) for f in check(cfg)]
    return found + [f for check in CHECKS[1:] for f in check(cfg)]
