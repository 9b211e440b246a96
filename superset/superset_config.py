"""Superset's configuration for SafeStats: identity pass-through, a per-user data cache, no shared results
backend, the conditions-of-use gate and the audit hooks. Read by Superset (its own venv) at start-up;
`safestats superset start` writes the per-install files it reads under $SAFESTATS_HOME/superset/."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from safestats_superset import runtime  # noqa: E402
from safestats_superset.gate import mutate_app  # noqa: E402
from safestats_superset.identity import connection_mutator  # noqa: E402
from safestats_superset.security import SafeStatsSecurityManager  # noqa: E402

SUPERSET_DIR = runtime.superset_dir()

# A key generated per install (0600 file); a known default or short key stops Superset from starting.
SECRET_KEY = runtime.secret_key()

SQLALCHEMY_DATABASE_URI = runtime.settings().get("metadata_uri") or f"sqlite:///{SUPERSET_DIR / 'superset.db'}"
DATA_DIR = str(SUPERSET_DIR / "data")
UPLOAD_FOLDER = str(SUPERSET_DIR / "uploads")

FEATURE_FLAGS = {
    # Every cache key carries the user: two organisations never share a cached result.
    "CACHE_QUERY_BY_USER": True,
    "ENABLE_TEMPLATE_PROCESSING": False,
    "DASHBOARD_RBAC": False,
    "ALERT_REPORTS": False,
    "GLOBAL_ASYNC_QUERIES": False,
}


def _file_cache(name: str, timeout: int) -> dict:
    return {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(SUPERSET_DIR / "cache" / name),
            "CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_KEY_PREFIX": f"safestats_{name}_", "CACHE_THRESHOLD": 5000}


DATA_CACHE_CONFIG = _file_cache("data", 3600)
CACHE_CONFIG = _file_cache("metadata", 300)
# No results backend: SQL Lab results are never stored for someone else to fetch (see docs/superset.md).
RESULTS_BACKEND = None
SQLLAB_CTAS_NO_LIMIT = False

DB_CONNECTION_MUTATOR = connection_mutator
FLASK_APP_MUTATOR = mutate_app
CUSTOM_SECURITY_MANAGER = SafeStatsSecurityManager

WTF_CSRF_ENABLED = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = 8 * 3600
AUTH_USER_REGISTRATION = False
FAB_ADD_SECURITY_API = True
PUBLIC_ROLE_LIKE = None
ROW_LIMIT = 50000
SQL_MAX_ROW = 100000
PREVENT_UNSAFE_DB_CONNECTIONS = True
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = "WARNING"
