"""The conditions of use at every login: no route of the app answers a session that has not accepted them.

Pages redirect to /terms/ and every other route answers 403 until the user accepts the version in force, on
this login's session; a new version published mid-session sends an open session back to /terms/ at its next
request, and with no conditions published no one gets past (503).
A request carrying a bearer token is judged by that token alone: an invalid or expired one is refused (401)
whatever cookie comes with it, and a valid one is refused (403) for everyone but the provisioning account,
since a token never passes the conditions page.
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from flask import g, jsonify, redirect, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from safestats_superset import audit, runtime
from safestats_superset.conditions import page

TERMS_ACCEPTED = "safestats_terms_accepted"
# Whole paths only (fullmatch): a prefix such as /login would otherwise exempt /loginanything.
EXEMPT = re.compile(r"/static/.+|/login/?|/logout/?|/terms/?|/second-factor/?|/invite/[A-Za-z0-9_-]{20,100}/?"
                    r"|/health|/healthcheck|/ping|/api/v1/security/login/?")

def username() -> str | None:
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user
    return getattr(user, "username", None) if getattr(user, "is_authenticated", False) else None


def local_path(target: str | None) -> str:
    """Where to go next, if it is a path of this app; otherwise home. Browsers read `/\\host` as `//host`, and
    drop tabs and newlines: a path with a backslash or any control character is not taken."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/home/"
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return "/home/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/home/"


UNPUBLISHED = ("No conditions of use are published, so SafeStats cannot be used: contact the platform team.")


def terms_page():
    if not current_user.is_authenticated:
        return redirect("/login/")
    conditions = runtime.conditions()
    if not conditions:
        return UNPUBLISHED, 503
    next_url = local_path(request.values.get("next"))
    if request.method == "POST":
        try:    # Superset's CSRFProtect checks first (a failure redirects to /login/); this check does
            # not depend on app-wide settings such as WTF_CSRF_EXEMPT_LIST
            validate_csrf(request.form.get("csrf_token", ""))
        except ValidationError:
            return "The form expired or did not come from this site: reload /terms/ and accept again.", 400
        if request.form.get("version") != str(conditions["version"]):
            return redirect("/terms/?next=" + quote(next_url, safe="/"))    # a page of an older version
        try:
            audit.write("conditions_accepted", current_user.username, "conditions of use",
                        {"version": conditions["version"], "sha256": conditions.get("sha256"),
                         "remote_addr": request.remote_addr})
        except audit.AuditUnavailable:
            return ("The audit trail is unavailable, so the conditions cannot be recorded as accepted. "
                    "Try again later or contact the platform team."), 503
        session[TERMS_ACCEPTED] = conditions["version"]
        return redirect(next_url)
    user = runtime.named_users().get(current_user.username) or {}
    return page(current_user.username, user, conditions, generate_csrf(), next_url)


def has_bearer() -> bool:
    """Any Authorization header: the JWT library reads more forms than `Bearer <token>` (a tab, a comma-separated
    list), and a request it would authenticate must never pass as a cookie or anonymous one."""
    return bool(request.headers.get("Authorization", "").strip())


def gate():
    if has_bearer():
        return _gate_bearer()
    if EXEMPT.fullmatch(request.path) or not current_user.is_authenticated:
        return None        # Superset itself sends anonymous callers to the login page
    conditions = runtime.conditions()
    if not conditions:
        return jsonify(message=UNPUBLISHED), 503
    accepted = session.get(TERMS_ACCEPTED)
    if type(accepted) is int and accepted == conditions["version"]:
        return None
    if request.path.startswith("/api/") or request.method != "GET":
        return jsonify(message=f"Accept the conditions of use (version {conditions['version']}) at /terms/ "
                               "first."), 403
    return redirect("/terms/?next=" + quote(request.full_path.rstrip("?"), safe="/"))


def _gate_bearer():
    from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
    from superset import security_manager

    try:
        verify_jwt_in_request()
        identity = get_jwt_identity()
    except Exception:
        # never fall back to the cookie: a session must not skip the conditions by adding a broken token
        return jsonify(message="The bearer token is invalid or expired."), 401
    user = security_manager.get_user_by_id(int(identity)) if str(identity).isdigit() else None
    if user is not None and user.is_active and user.username == runtime.provisioning_user():
        return None
    return jsonify(message="Bearer-token calls are for the provisioning account only: log in through the "
                           "browser and accept the conditions of use."), 403
