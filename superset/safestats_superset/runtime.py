"""The per-install facts Superset needs, from files `safestats superset start|sync` write under SAFESTATS_HOME."""
from __future__ import annotations

import json
import logging
import os
import time
from datetime import date
from functools import lru_cache
from pathlib import Path

# Keys seen in Superset's docs, samples and images: an install running with one of them is forgeable.
KNOWN_DEFAULT_KEYS = frozenset({
    "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    "\2\1thisismyscretkey\1\2\\e\\y\\y\\h",
    "thisISaSECRET_1234",
    "YOUR_OWN_RANDOM_GENERATED_SECRET_KEY",
    "TEST_NON_DEV_SECRET",
    "superset",
    "secret",
})
MIN_KEY_LENGTH = 32


def home() -> Path:
    value = os.environ.get("SAFESTATS_HOME")
    if not value:
        raise RuntimeError("SAFESTATS_HOME is not set: start Superset with `safestats superset start`")
    return Path(value)


def superset_dir() -> Path:
    return home() / "superset"


def secret_key() -> str:
    path = superset_dir() / "secret_key"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: start Superset with `safestats superset start`, which generates it")
    key = path.read_text().strip()
    if key in KNOWN_DEFAULT_KEYS or len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(f"{path} holds a known default or short SECRET_KEY: refusing to start "
                           "(delete the file and run `safestats superset start` to generate a new one)")
    return key


@lru_cache(maxsize=1)
def settings() -> dict:
    """Written by `safestats superset start`: database socket, port, name; provisioning account."""
    return json.loads((superset_dir() / "runtime.json").read_text())


def json_by_mtime(path: Path, _cache: dict = {}) -> dict:  # noqa: B006 - a cache keyed by file and mtime
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    data = json.loads(path.read_text())
    _cache[path] = (mtime, data)
    return data


def user_passwords() -> dict:
    return json_by_mtime(home() / "user_credentials.json")


def service_passwords() -> dict:
    return json_by_mtime(home() / "credentials.json")


STEWARD = "safestats_user_steward"
NAMED_USERS_SECONDS = 10.0
_named: dict = {}
logger = logging.getLogger("safestats.runtime")


def organisations() -> dict:
    """organisation slug -> its agreement in words and its Superset roles: written by `safestats superset sync`."""
    return json_by_mtime(superset_dir() / "organisations.json")


def forget_named_users() -> None:
    """After an administrator's change in this process: the next call reads the governance tables again."""
    _named.clear()


def named_users() -> dict:
    """username -> who they are ({organisation, role, active, expires_on, name, purpose} and their organisation's
    agreement in words), from the governance tables where administrators change them; read again every
    NAMED_USERS_SECONDS, so a change reaches every Superset worker within that. Active means: an active
    authorisation, not expired, under an agreement in force, with a database login in this install. When the
    tables cannot be read, nobody is a named user (every query runs as nobody; sessions end)."""
    now = time.monotonic()
    if _named and now - _named["at"] < NAMED_USERS_SECONDS:
        return _named["users"]
    try:
        conn = connect(STEWARD)
        try:
            with conn.cursor() as cur:
                cur.execute("select * from governance.named_users()")
                names = [c.name for c in cur.description]
                rows = [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            conn.close()
    except Exception as exc:        # fail closed, loudly
        logger.error("the governance tables cannot be read: %s", exc)
        return {}
    orgs, passwords, today = organisations(), user_passwords(), date.today()
    users = {}
    for row in rows:
        org = orgs.get(row["organisation"]) or {}
        users[row["username"]] = {
            **{k: v for k, v in org.items() if k != "superset_roles"},
            "organisation": row["organisation"], "role": row["role"], "status": row["status"], "name": row["name"],
            "email": row["email"], "purpose": row["purpose"], "expires_on": row["expires_on"].isoformat(),
            "source": row["source"],
            "active": (row["status"] == "active" and row["agreement_in_force"] and row["expires_on"] >= today
                       and row["username"] in passwords),
        }
    _named.update(at=now, users=users)
    return users


def dictionary() -> dict:
    """organisation slug -> [{relation, description, columns: [[name, label, type, description]]}]: the tables
    and columns each organisation's database role reads, written by `safestats superset sync`."""
    return json_by_mtime(superset_dir() / "dictionary.json")


def organisation_of(username: str | None) -> str | None:
    return (named_users().get(username or "") or {}).get("organisation")


def provisioning_user() -> str:
    return settings()["provisioning_user"]


def connect(role: str):
    """A connection to the warehouse as one of the platform's own roles (its password from credentials.json)."""
    import psycopg2

    s = settings()
    return psycopg2.connect(host=s["db_host"], port=s["db_port"], dbname=s["db_name"], user=role,
                            password=service_passwords().get(role, ""), connect_timeout=5)


def conditions() -> dict:
    """The conditions of use in force ({version, clauses, sha256, ...}), published by `safestats superset sync`
    from access_policies/conditions_of_use.yml; empty when none are published (then no one gets past them)."""
    return json_by_mtime(superset_dir() / "conditions.json")
