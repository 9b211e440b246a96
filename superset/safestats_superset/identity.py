"""Identity pass-through: every query runs as the logged-in user's own PostgreSQL login, or as a role that
sees nothing. Superset calls this for SQL Lab, charts, dashboards and exports alike."""
from __future__ import annotations

import re

from safestats_superset import runtime

NOBODY = "safestats_superset_nobody"
DRIVER = "postgresql+psycopg2"
# The one connection option Superset itself sets (SQL Lab's chosen schema); any other is dropped.
SEARCH_PATH_OPTION = re.compile(r"-csearch_path=[A-Za-z_][A-Za-z0-9_]*")


def login_for(username: str | None) -> tuple[str, str]:
    """(role, password): the named user's own login while sync lists them as active, otherwise nobody's."""
    user = runtime.named_users().get(username or "")
    password = runtime.user_passwords().get(username or "")
    if user and user.get("active") and password:
        return username, password
    return NOBODY, runtime.service_passwords().get(NOBODY, "")


def connection_mutator(uri, params, username, security_manager, source):
    """The whole URL is rebuilt from this install's settings: whatever a stored connection carries in its
    host, database or query string (user=, password=, options=, service=, passfile=, ...) is ignored, so
    a database someone adds or edits by hand still connects as the user (or as nobody) to the warehouse."""
    role, password = login_for(username)
    s = runtime.settings()
    socket = str(s["db_host"]).startswith("/")
    clean = uri.set(drivername=DRIVER, username=role, password=password, database=s["db_name"],
                    host=None if socket else s["db_host"], port=None if socket else int(s["db_port"]),
                    query={"host": s["db_host"], "port": str(s["db_port"])} if socket else {})
    connect_args = {"application_name": f"superset:{role}", "connect_timeout": 10}
    options = (params.get("connect_args") or {}).get("options")
    if isinstance(options, str) and SEARCH_PATH_OPTION.fullmatch(options.strip()):
        connect_args["options"] = options.strip()
    return clean, {**{k: v for k, v in params.items() if k != "connect_args"}, "connect_args": connect_args}


KEEPER = "safestats_login_keeper"


def restore_login(username: str) -> list[str]:
    """At every Superset login: the user's database login put back as `policies apply` left it (an analyst
    who changed their own password or role settings from SQL Lab is locked out until this login, no longer).
    Returns what was repaired; raises when the warehouse cannot be reached (the login is then refused)."""
    conn = runtime.connect(KEEPER)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select private.restore_login(%s)", (username,))
            return list(cur.fetchone()[0] or [])
    finally:
        conn.close()
