"""Sessions that end: kept server-side, and every open session of a user ended within a minute of their
logout anywhere, their authorisation expiring, their organisation's agreement lapsing or their deactivation,
without anyone running a sync. The database's own record of the login (VALID UNTIL, LOGIN) is the authority."""
from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
from cachelib.file import FileSystemCache
from flask import current_app, jsonify, redirect, request, session
from flask_login import current_user, logout_user

from safestats_superset import audit, identity, runtime
from safestats_superset.gate import has_bearer
from safestats_superset.identity import NOBODY
from safestats_superset.request_guard import STATIC

LOGIN_AT = "safestats_login_at"
LONDON = ZoneInfo("Europe/London")
_standing: dict[str, tuple[float, str | None]] = {}


def configure(config: dict, superset_dir: Path) -> None:
    """Server-side sessions: the cookie holds a signed id only, so a copied cookie dies with the session."""
    config.update({
        "SESSION_SERVER_SIDE": True,
        "SESSION_TYPE": "cachelib",
        "SESSION_CACHELIB": FileSystemCache(str(superset_dir / "sessions"), threshold=20_000, mode=0o600),
        "SESSION_USE_SIGNER": True,
        "SESSION_KEY_PREFIX": "safestats_session_",
        "SESSION_PERMANENT": True,
    })


def _revocations() -> FileSystemCache:
    return FileSystemCache(str(runtime.superset_dir() / "revocations"), threshold=0, default_timeout=0, mode=0o600)


def _check_seconds() -> float:
    return float(current_app.config.get("SAFESTATS_SESSION_CHECK_SECONDS", 20))


def _database_login(username: str) -> str | None:
    """Why PostgreSQL would refuse this user's login now, or None (read as the nobody role: catalogue only)."""
    conn = runtime.connect(NOBODY)
    try:
        with conn.cursor() as cur:
            cur.execute("select rolcanlogin, rolvaliduntil is not null and rolvaliduntil <= now()"
                        " from pg_catalog.pg_roles where rolname = %s", (username,))
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return "no database login"
    if not row[0]:
        return "account deactivated"
    return "authorisation expired" if row[1] else None


def _standing_now(username: str) -> str | None:
    named = runtime.named_users().get(username)
    if named is None:
        return "not a named user"
    if not named.get("active"):
        return "account deactivated"
    expires = named.get("expires_on")
    if expires and date.fromisoformat(expires) < datetime.now(LONDON).date():
        return "authorisation expired"
    try:
        reason = _database_login(username)
        if reason is None:
            # the login put back as `policies apply` left it, while the session runs (not only at login):
            # a password or setting the user changed from any client lasts this long at most
            repaired = identity.restore_login(username)
            if repaired:
                audit.try_write("login_repaired", username, "warehouse login", {"repaired": repaired})
        return reason
    except psycopg2.Error:
        return "the warehouse cannot confirm the login"     # fail closed


def standing(username: str, fresh: bool = False) -> str | None:
    """None while the user may work; otherwise why not. Re-read at most every SAFESTATS_SESSION_CHECK_SECONDS
    while a session runs, and always at login (fresh)."""
    if username == runtime.provisioning_user():
        return None
    now = time.monotonic()
    cached = _standing.get(username)
    if cached and not fresh and now - cached[0] < _check_seconds():
        return cached[1]
    if fresh:
        runtime.forget_named_users()    # a login reads who the user is now (someone onboarded a second ago)
    reason = _standing_now(username)
    _standing[username] = (now, reason)
    return reason


def logged_in(user) -> None:
    """A fresh session id at every login (a planted id is worthless) and the time it began."""
    interface = current_app.session_interface
    if hasattr(interface, "regenerate"):
        interface.regenerate(session)
    session[LOGIN_AT] = time.time()


def revoke(username: str) -> None:
    """Every session of the user begun before now ends at its next request (an administrator suspended or
    removed them, or reset their second factor)."""
    _revocations().set(username, time.time())


def logged_out(user) -> None:
    """Logging out ends every session of the user, in every browser, not only this one."""
    if user is not None and getattr(user, "username", None):
        _revocations().set(user.username, time.time())
    session.clear()


def check():
    """before_request: end a session that was revoked, or whose user may no longer work."""
    if STATIC.fullmatch(request.path) or has_bearer() or not current_user.is_authenticated:
        return None     # bearer calls are judged by the gate; a static file is nobody's data (no user is loaded)
    name = current_user.username
    if name == runtime.provisioning_user():
        return None
    revoked_at = _revocations().get(name) or 0
    login_at = session.get(LOGIN_AT)
    reason = "logged out" if login_at is None or login_at <= revoked_at else standing(name)
    if reason is None:
        return None
    audit.try_write("session_ended", name, "superset", {"reason": reason})
    logout_user()
    session.clear()
    if request.path.startswith("/api/") or request.method != "GET":
        return jsonify(message=f"Your session has ended ({reason}). Log in again."), 401
    return redirect("/login/")
