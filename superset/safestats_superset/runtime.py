"""The per-install facts Superset needs, from files `safestats superset start|sync` write under SAFESTATS_HOME."""
from __future__ import annotations

import json
import os
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


def _json_by_mtime(path: Path, _cache: dict = {}) -> dict:  # noqa: B006 - a cache keyed by file and mtime
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
    return _json_by_mtime(home() / "user_credentials.json")


def service_passwords() -> dict:
    return _json_by_mtime(home() / "credentials.json")


def named_users() -> dict:
    """username -> {organisation, role, active}: written by `safestats superset sync` from access_policies/."""
    return _json_by_mtime(superset_dir() / "users.json")


def dictionary() -> dict:
    """organisation slug -> [{relation, description, columns: [[name, label, type, description]]}]: the tables
    and columns each organisation's database role reads, written by `safestats superset sync`."""
    return _json_by_mtime(superset_dir() / "dictionary.json")


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
    return _json_by_mtime(superset_dir() / "conditions.json")
