"""The conditions of use at every login, and the audit of logins, queries, chart data and exports.

Pages redirect to /terms/ and /api/* answers 403 until the user accepts, on this login's session. Calls with
a bearer token never pass the conditions page, so only the provisioning account may make them.
"""
from __future__ import annotations

import html
import logging
import re
from urllib.parse import quote

from flask import Flask, g, jsonify, redirect, request, session
from flask_login import current_user, user_logged_in, user_logged_out
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from safestats_superset import audit, runtime

TERMS_ACCEPTED = "safestats_terms_accepted"
EXEMPT = re.compile(r"^/(static/|login/?|logout/?|terms/?$|health|healthcheck|ping|api/v1/security/login)")
SQLLAB_EXECUTE = re.compile(r"^/api/v1/sqllab/execute/?$")
SQLLAB_EXPORT = re.compile(r"^/api/v1/sqllab/export/(?P<client_id>[^/]+)/?$")
CHART_DATA = re.compile(r"^/api/v1/chart/(?:(?P<chart_id>\d+)/)?data/?$")
LEGACY_CHART_DATA = re.compile(r"^/superset/explore_json/?")   # legacy viz types, e.g. the Country Map
logger = logging.getLogger("safestats.gate")

CONDITIONS = [
    "You use SafeStats only for the purpose your organisation authorised you for, under its Data Sharing Agreement.",
    "You do not try to identify any person, and you do not link these data to other records about people.",
    "You publish only aggregate figures that follow the disclosure rules (counts 1-7 suppressed, others rounded "
    "to 5).",
    "Exports stay on your organisation's managed systems; you delete them when the purpose ends.",
    "Every login, query and download is recorded and can be reviewed by your organisation and the platform team.",
]


def _username() -> str | None:
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


def gate():
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return _gate_bearer()
    if EXEMPT.match(request.path) or not current_user.is_authenticated:
        return None        # Superset itself sends anonymous callers to the login page
    if session.get(TERMS_ACCEPTED) is True:
        return None
    if request.path.startswith("/api/"):
        return jsonify(message="Accept the conditions of use at /terms/ first."), 403
    return redirect("/terms/?next=" + quote(request.full_path.rstrip("?"), safe="/"))


def _gate_bearer():
    from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
    from superset import security_manager

    try:
        verify_jwt_in_request()
        identity = get_jwt_identity()
    except Exception:
        return None        # an invalid token: Superset answers 401 itself
    user = security_manager.get_user_by_id(int(identity)) if str(identity).isdigit() else None
    if user is not None and user.username == runtime.provisioning_user():
        return None
    return jsonify(message="Bearer-token calls are for the provisioning account only: log in through the "
                           "browser and accept the conditions of use."), 403


def _rows_in_csv(body: bytes) -> int:
    lines = body.decode("utf-8", "replace").splitlines()
    return max(len([line for line in lines if line.strip()]) - 1, 0)


def _rows_in_xlsx(body: bytes) -> int | None:
    try:
        import io

        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        return max(sheet.max_row - 1, 0)
    except Exception:
        return None


def _buffer(response) -> bytes:
    """The whole body, so an export is only sent once its audit record is written."""
    if response.is_streamed:
        response.direct_passthrough = False
        body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in response.response)
        response.set_data(body)
        return body
    return response.get_data()


def _chart_request() -> dict:
    """The chart request's payload: a JSON body, or form data posted or passed in the query string (legacy)."""
    import json

    payload = request.get_json(silent=True) if request.is_json else None
    raw = request.form.get("form_data") or request.args.get("form_data")
    if payload is None and raw:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
    return payload if isinstance(payload, dict) else {}


def audit_response(response):
    path, user = request.path, _username()
    try:
        if request.method == "POST" and SQLLAB_EXECUTE.match(path):
            body = request.get_json(silent=True) or {}
            result = response.get_json(silent=True) or {}
            query = result.get("query") or {}
            rows = query.get("rows", len(result.get("data") or []))
            audit.write("sqllab_query", user, f"database {body.get('database_id')}",
                        {"sql": body.get("sql"), "rows": rows, "status": response.status_code,
                         "error": (result.get("errors") or [{}])[0].get("message") if response.status_code >= 400
                         else None})
        elif (match := SQLLAB_EXPORT.match(path)) and request.method == "GET":
            if response.status_code < 400:
                body = _buffer(response)
                audit.write("export", user, f"sqllab query {match['client_id']}",
                            {"format": "csv", "rows": _rows_in_csv(body)})
        elif (match := CHART_DATA.match(path)):
            payload = _chart_request()
            fmt = (payload.get("result_format") or request.args.get("format") or "json").lower()
            datasource = payload.get("datasource") or {}
            chart = match["chart_id"] or (payload.get("form_data") or {}).get("slice_id")
            what = f"chart {chart}" if chart else f"datasource {datasource.get('id')}"
            if fmt in ("csv", "xlsx") and response.status_code < 400:
                body = _buffer(response)
                rows = _rows_in_csv(body) if fmt == "csv" else _rows_in_xlsx(body)
                audit.write("export", user, what, {"format": fmt, "rows": rows, "datasource": datasource})
            else:
                result = response.get_json(silent=True) or {}
                rows = sum(r.get("rowcount") or 0 for r in result.get("result") or [])
                audit.write("chart_data", user, what, {"rows": rows, "format": fmt, "status": response.status_code,
                                                        "datasource": datasource})
        elif LEGACY_CHART_DATA.match(path):
            form_data = _chart_request()
            fmt = "csv" if request.args.get("csv") == "true" else "xlsx" if request.args.get("xlsx") == "true" \
                else "json"
            what = f"chart {form_data.get('slice_id')}" if form_data.get("slice_id") else \
                f"datasource {form_data.get('datasource')}"
            if fmt != "json" and response.status_code < 400:
                body = _buffer(response)
                audit.write("export", user, what, {"format": fmt, "rows": _rows_in_csv(body) if fmt == "csv"
                                                   else _rows_in_xlsx(body), "viz_type": form_data.get("viz_type")})
            else:
                result = response.get_json(silent=True) or {}
                audit.write("chart_data", user, what, {"rows": result.get("rowcount"), "format": fmt,
                                                        "status": response.status_code,
                                                        "viz_type": form_data.get("viz_type")})
        elif request.method == "POST" and path.rstrip("/") == "/api/v1/security/login" and response.status_code == 200:
            body = request.get_json(silent=True) or {}
            audit.write("login", body.get("username"), "superset", {"method": "api"})
    except audit.AuditUnavailable:
        if _is_export(path) and response.status_code < 400:
            refused = jsonify(message="Export refused: its audit record could not be written.")
            refused.status_code = 503
            return refused
    return response


def _is_export(path: str) -> bool:
    if SQLLAB_EXPORT.match(path):
        return True
    if CHART_DATA.match(path):
        return (_chart_request().get("result_format") or request.args.get("format") or "").lower() in ("csv", "xlsx")
    if LEGACY_CHART_DATA.match(path):
        return request.args.get("csv") == "true" or request.args.get("xlsx") == "true"
    return False


def mutate_app(app: Flask) -> None:
    app.add_url_rule("/terms/", "safestats_terms", terms_page, methods=["GET", "POST"])
    app.before_request(gate)
    app.after_request(audit_response)

    @user_logged_in.connect_via(app)
    def _logged_in(sender, user, **extra):
        session.pop(TERMS_ACCEPTED, None)   # every login passes the conditions page again
        audit.try_write("login", user.username, "superset", {"method": "form", "remote_addr": request.remote_addr})

    @user_logged_out.connect_via(app)
    def _logged_out(sender, user, **extra):
        session.pop(TERMS_ACCEPTED, None)
        audit.try_write("logout", getattr(user, "username", None), "superset")
