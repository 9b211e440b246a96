"""Identity pass-through: every query runs as the logged-in user's own PostgreSQL login, or as a role that
sees nothing. Superset calls this for SQL Lab, charts, dashboards and exports alike."""
from __future__ import annotations

from safestats_superset import runtime

NOBODY = "safestats_superset_nobody"


def login_for(username: str | None) -> tuple[str, str]:
    """(role, password): the named user's own login while sync lists them as active, otherwise nobody's."""
    user = runtime.named_users().get(username or "")
    password = runtime.user_passwords().get(username or "")
    if user and user.get("active") and password:
        return username, password
    return NOBODY, runtime.service_passwords().get(NOBODY, "")


def connection_mutator(uri, params, username, security_manager, source):
    # SQLAlchemy 1.4 URLs are immutable: set() returns a new one. Any URL is rewritten, so a database
    # someone adds by hand still connects as the user (or as nobody), never as a stored account.
    role, password = login_for(username)
    return uri.set(username=role, password=password), params
