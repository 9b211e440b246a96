"""The conditions of use at every login: no route of the app answers a session that has not accepted them.

Pages redirect to /terms/ and every other route answers 403 until the user accepts, on this login's session.
A request carrying a bearer token is judged by that token alone: an invalid or expired one is refused (401)
whatever cookie comes with it, and a valid one is refused (403) for everyone but the provisioning account,
since a token never passes the conditions page.
"""
from __future__ import annotations

import html
import re
from urllib.parse import quote

from flask import g, jsonify, redirect, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from safestats_superset import audit, runtime

TERMS_ACCEPTED = "safestats_terms_accepted"
# Whole paths only (fullmatch): a prefix such as /login would otherwise exempt /loginanything.
EXEMPT = re.compile(r"/static/.+|/login/?|/logout/?|/terms/?|/health|/healthcheck|/ping|/api/v1/security/login/?")

CONDITIONS = [
    "You use SafeStats only for the purpose your organisation authorised you for, under its Data Sharing Agreement.",
    "You do not try to identify any person, and you do not link these data to other records about people.",
    "You publish only aggregate figures that follow the disclosure rules (counts 1-7 suppressed, others rounded "
    "to 5).",
    "Exports stay on your organisation's managed systems; you delete them when the purpose ends.",
    "Every login, query and download is recorded and can be reviewed by your organisation and the platform team.",
]


def username() -> str | None:
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user
    return getattr(user, "username", None) if getattr(user, "is_authenticated", False) else None


def _local(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/superset/welcome/"


def terms_page():
    if not current_user.is_authenticated:
        return redirect("/login/")
    next_url = _local(request.values.get("next"))
    if request.method == "POST":
        try:    # Superset's CSRFProtect checks first (a failure redirects to /login/); this check does
            # not depend on app-wide settings such as WTF_CSRF_EXEMPT_LIST
            validate_csrf(request.form.get("csrf_token", ""))
        except ValidationError:
            return "The form expired or did not come from this site: reload /terms/ and accept again.", 400
        try:
            audit.write("conditions_accepted", current_user.username, "conditions of use",
                        {"version": 1, "remote_addr": request.remote_addr})
        except audit.AuditUnavailable:
            return ("The audit trail is unavailable, so the conditions cannot be recorded as accepted. "
                    "Try again later or contact the platform team."), 503
        session[TERMS_ACCEPTED] = True
        return redirect(next_url)
    items = "".join(f"<li>{html.escape(c)}</li>" for c in CONDITIONS)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SafeStats conditions of use</title>
</head><body style="font-family: sans-serif; max-width: 48rem; margin: 3rem auto; line-height: 1.5">
<h1>Conditions of use</h1>
<p>Signed in as <strong>{html.escape(current_user.username)}</strong>. Before you continue, read and accept:</p>
<ol>{items}</ol>
<form method="post" action="/terms/">
<input type="hidden" name="csrf_token" value="{generate_csrf()}">
<input type="hidden" name="next" value="{html.escape(next_url)}">
<button type="submit" id="accept-conditions">I accept the conditions of use</button>
<a href="/logout/">Log out</a>
</form></body></html>"""


def has_bearer() -> bool:
    return request.headers.get("Authorization", "").strip()[:7].lower() == "bearer "


def gate():
    if has_bearer():
        return _gate_bearer()
    if EXEMPT.fullmatch(request.path) or not current_user.is_authenticated:
        return None        # Superset itself sends anonymous callers to the login page
    if session.get(TERMS_ACCEPTED) is True:
        return None
    if request.path.startswith("/api/") or request.method != "GET":
        return jsonify(message="Accept the conditions of use at /terms/ first."), 403
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
