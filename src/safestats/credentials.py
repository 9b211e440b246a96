"""Per-install passwords of the platform's own roles, generated once and kept in a 0600 file."""
from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path

from safestats.config import Settings, settings

LOADER_ROLE = "safestats_loader"
DBT_ROLE = "safestats_dbt"
AUDIT_WRITER_ROLE = "safestats_audit_writer"     # inserts audit events, nothing else
SUPERSET_NOBODY_ROLE = "safestats_superset_nobody"  # Superset's login for anyone but a named user: sees nothing
LOGIN_KEEPER_ROLE = "safestats_login_keeper"      # may only call private.restore_login(username)
USER_STEWARD_ROLE = "safestats_user_steward"      # may only call governance's functions (sql/governance.sql)
SERVICE_ROLES = (LOADER_ROLE, DBT_ROLE, AUDIT_WRITER_ROLE, SUPERSET_NOBODY_ROLE, LOGIN_KEEPER_ROLE,
                 USER_STEWARD_ROLE)


def load(cfg: Settings | None = None) -> dict[str, str]:
    """Read the credentials file, creating it (0600) with fresh passwords on first use."""
    path = (cfg or settings()).credentials_file
    stored = json.loads(path.read_text()) if path.exists() else {}
    missing = [role for role in SERVICE_ROLES if role not in stored]
    if missing:
        stored.update({role: secrets.token_urlsafe(24) for role in missing})
        _write_private(path, json.dumps(stored, indent=2) + "\n")
    return stored


def user_passwords_file(cfg: Settings | None = None) -> Path:
    return (cfg or settings()).home / "user_credentials.json"


def user_passwords(cfg: Settings | None = None) -> dict[str, str]:
    """Named users' passwords in this install (username -> password)."""
    path = user_passwords_file(cfg)
    return json.loads(path.read_text()) if path.exists() else {}


def save_user_passwords(passwords: dict[str, str], cfg: Settings | None = None) -> None:
    """Add or replace these users' passwords. Superset's onboarding page writes the same file (a new user's
    database password), so the read and the write happen under one lock file."""
    path = user_passwords_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored.update(passwords)
        _write_private(path, json.dumps(dict(sorted(stored.items())), indent=2) + "\n")


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _write_private(path: Path, text: str) -> None:
    """Written beside and renamed over: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
