"""Superset's configuration for SafeStats: identity pass-through, per-user caches, no shared results backend,
server-side sessions that end, the conditions-of-use gate, organisations kept apart and the audit hooks
(the controls are in safestats_superset/app.py; docs/security.md says what each stops). Read by Superset
(its own venv) at start-up; `safestats superset start` writes the per-install files it reads under
$SAFESTATS_HOME/superset/."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from safestats_superset import objects, runtime, sessions  # noqa: E402
from safestats_superset.app import mutate_app  # noqa: E402
from safestats_superset.identity import connection_mutator  # noqa: E402
from safestats_superset.security import SafeStatsSecurityManager  # noqa: E402

SUPERSET_DIR = runtime.superset_dir()

# A key generated per install (0600 file); a known default or short key stops Superset from starting.
SECRET_KEY = runtime.secret_key()

SQLALCHEMY_DATABASE_URI = runtime.settings().get("metadata_uri") or f"sqlite:///{SUPERSET_DIR / 'superset.db'}"
DATA_DIR = str(SUPERSET_DIR / "data")
UPLOAD_FOLDER = str(SUPERSET_DIR / "uploads")

# SafeStats' own name and mark in the window title and the top bar (an inline SVG: CSP allows data: images).
APP_NAME = "SafeStats"
BRAND_COLOUR = "#0b3d5c"
APP_ICON = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="150" height="32" viewBox="0 0 150 32">'
    b'<path d="M14 2 L26 6 V15 C26 22 21 27 14 30 C7 27 2 22 2 15 V6 Z" fill="#0b3d5c"/>'
    b'<path d="M8 16 L12.5 20.5 L20.5 11" stroke="#fff" stroke-width="3" fill="none"/>'
    b'<text x="33" y="22" font-family="Inter, Helvetica, Arial, sans-serif" font-size="18" font-weight="700"'
    b' fill="#0b3d5c">SafeStats</text></svg>').decode()
FAVICONS = [{"href": APP_ICON}]
LOGO_TOOLTIP = "SafeStats: your dashboards"
THEME_DEFAULT = {"token": {"brandAppName": APP_NAME, "brandLogoAlt": APP_NAME, "brandLogoUrl": APP_ICON,
                           "brandLogoMargin": "14px 0", "brandLogoHref": "/home/", "brandLogoHeight": "32px",
                           "colorPrimary": BRAND_COLOUR, "colorLink": BRAND_COLOUR,
                           "fontFamily": "Inter, Helvetica, Arial, sans-serif"},
                 "algorithm": "default"}
THEME_DARK = None

FEATURE_FLAGS = {
    # Every cache key carries the user: two organisations never share a cached result.
    "CACHE_QUERY_BY_USER": True,
    "ENABLE_TEMPLATE_PROCESSING": False,
    # A dashboard made for an organisation is shown to its role only (superset/provision_users.py).
    "DASHBOARD_RBAC": True,
    "ALERT_REPORTS": False,
    "GLOBAL_ASYNC_QUERIES": False,
    "THUMBNAILS": False,
    # SQL Lab's tabs stay in the browser: the server-side tab state takes any column on update (its owner
    # too), so a tab could be handed to another user to run (request_guard refuses those routes).
    "SQLLAB_BACKEND_PERSISTENCE": False,
    "ENABLE_EXPLORE_DRAG_AND_DROP": True,
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
# Only the front end's beacon log goes without a token; chart data, the legacy chart endpoint and samples
# (exempt by default) need one, so no other page can make a browser run a query.
WTF_CSRF_EXEMPT_LIST = ["superset.views.core.log"]
sessions.configure(globals(), SUPERSET_DIR)
# Owners pickers and created-by filters list the analyst's own organisation only.
EXTRA_RELATED_QUERY_FILTERS = {"user": objects.related_users}
HTML_SANITIZATION = True
# Pages load images, scripts, styles and data from this app only, and no other site may frame them.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "frame-src": "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
    "frame_options": "DENY",
}
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
