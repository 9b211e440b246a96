"""What Superset does on an analyst's behalf, written to the audit trail after each request: SQL Lab runs,
chart data (with the SQL it ran), exports (refused when their record cannot be written), and every change
to charts, dashboards, saved queries and datasets."""
from __future__ import annotations

import io
import json
import re

from flask import jsonify, request

from safestats_superset import audit
from safestats_superset.gate import username

SQLLAB_EXECUTE = re.compile(r"/api/v1/sqllab/execute/?")
SQLLAB_EXPORT = re.compile(r"/api/v1/sqllab/export/(?P<client_id>[^/]+)/?")
CHART_DATA = re.compile(r"/api/v1/chart/(?:(?P<chart_id>\d+)/)?data/?")
LEGACY_CHART_DATA = re.compile(r"/superset/explore_json/.*")
# Objects analysts make: create (POST), change (PUT), delete (DELETE, one or a bulk ?q=!(ids)), copy, import.
OBJECT_CHANGE = re.compile(r"/api/v1/(?P<kind>chart|dashboard|saved_query|dataset)"
                           r"(?:/(?P<id>\d+))?(?:/(?P<action>copy|import|duplicate))?/?")
OBJECT_EVENTS = {"POST": "object_created", "PUT": "object_changed", "DELETE": "object_deleted"}
MAX_SQL = 20_000


def canonical_username(typed: str | None) -> str | None:
    """The account's own spelling of a username typed in any case (logins match case-insensitively)."""
    from superset import security_manager

    user = security_manager.find_user(username=typed) if typed else None
    return user.username if user is not None else typed


def _rows_in_csv(body: bytes) -> int:
    lines = body.decode("utf-8", "replace").splitlines()
    return max(len([line for line in lines if line.strip()]) - 1, 0)


def _rows_in_xlsx(body: bytes) -> int | None:
    try:
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


def chart_request() -> dict:
    """The chart request's payload: a JSON body, or form data posted or passed in the query string (legacy)."""
    payload = request.get_json(silent=True) if request.is_json else None
    raw = request.form.get("form_data") or request.args.get("form_data")
    if payload is None and raw:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
    return payload if isinstance(payload, dict) else {}


def _sql_of(result: dict) -> list[str]:
    return [str(r.get("query"))[:MAX_SQL] for r in result.get("result") or [] if r.get("query")]


def _sqllab(response) -> None:
    body = request.get_json(silent=True) or {}
    result = response.get_json(silent=True) or {}
    query = result.get("query") or {}
    rows = query.get("rows", len(result.get("data") or []))
    audit.write("sqllab_query", username(), f"database {body.get('database_id')}",
                {"sql": body.get("sql"), "rows": rows, "status": response.status_code,
                 "error": (result.get("errors") or [{}])[0].get("message") if response.status_code >= 400 else None})


def _chart_data(response, chart_id: str | None) -> None:
    payload = chart_request()
    fmt = (payload.get("result_format") or request.args.get("format") or "json").lower()
    datasource = payload.get("datasource") or {}
    chart = chart_id or (payload.get("form_data") or {}).get("slice_id")
    what = f"chart {chart}" if chart else f"datasource {datasource.get('id')}"
    if fmt in ("csv", "xlsx") and response.status_code < 400:
        body = _buffer(response)
        rows = _rows_in_csv(body) if fmt == "csv" else _rows_in_xlsx(body)
        audit.write("export", username(), what, {"format": fmt, "rows": rows, "datasource": datasource})
        return
    result = response.get_json(silent=True) or {}
    rows = sum(r.get("rowcount") or 0 for r in result.get("result") or [])
    audit.write("chart_data", username(), what, {"rows": rows, "format": fmt, "status": response.status_code,
                                                 "datasource": datasource, "sql": _sql_of(result)})


def _legacy_chart_data(response) -> None:
    form_data = chart_request()
    fmt = "csv" if request.args.get("csv") == "true" else "xlsx" if request.args.get("xlsx") == "true" else "json"
    what = f"chart {form_data.get('slice_id')}" if form_data.get("slice_id") else \
        f"datasource {form_data.get('datasource')}"
    if fmt != "json" and response.status_code < 400:
        body = _buffer(response)
        audit.write("export", username(), what, {"format": fmt, "rows": _rows_in_csv(body) if fmt == "csv"
                                                 else _rows_in_xlsx(body), "viz_type": form_data.get("viz_type")})
        return
    result = response.get_json(silent=True) or {}
    audit.write("chart_data", username(), what, {
        "rows": result.get("rowcount"), "format": fmt, "status": response.status_code,
        "viz_type": form_data.get("viz_type"), "sql": str(result.get("query") or "")[:MAX_SQL] or None})


def _object_change(response, match: re.Match) -> None:
    result = response.get_json(silent=True) or {}
    ids = [match["id"]] if match["id"] else result.get("id") and [result["id"]] or request.args.get("q")
    body = request.get_json(silent=True) if request.is_json else None
    title = None
    if isinstance(body, dict):
        title = body.get("slice_name") or body.get("dashboard_title") or body.get("label") or body.get("table_name")
    event = "object_copied" if match["action"] in ("copy", "duplicate") else \
        "object_imported" if match["action"] == "import" else OBJECT_EVENTS[request.method]
    audit.write(event, username(), f"{match['kind']} {ids}" if ids else match["kind"],
                {"kind": match["kind"], "ids": ids, "title": title, "method": request.method,
                 "status": response.status_code, "sql": (body or {}).get("sql") if isinstance(body, dict) else None})


def audit_data_only(response):
    """The audit without object changes: for a test server that shows what the full audit adds."""
    if OBJECT_CHANGE.fullmatch(request.path):
        return response
    return audit_response(response)


def audit_response(response):
    path = request.path
    try:
        if request.method == "POST" and SQLLAB_EXECUTE.fullmatch(path):
            _sqllab(response)
        elif (match := SQLLAB_EXPORT.fullmatch(path)) and request.method == "GET":
            if response.status_code < 400:
                body = _buffer(response)
                audit.write("export", username(), f"sqllab query {match['client_id']}",
                            {"format": "csv", "rows": _rows_in_csv(body)})
        elif match := CHART_DATA.fullmatch(path):
            _chart_data(response, match["chart_id"])
        elif LEGACY_CHART_DATA.fullmatch(path):
            _legacy_chart_data(response)
        elif (match := OBJECT_CHANGE.fullmatch(path)) and request.method in OBJECT_EVENTS \
                and response.status_code < 400:
            _object_change(response, match)
        elif request.method == "POST" and path.rstrip("/") == "/api/v1/security/login" and response.status_code == 200:
            body = request.get_json(silent=True) or {}
            audit.write("login", canonical_username(body.get("username")), "superset", {"method": "api"})
    except audit.AuditUnavailable:
        if is_export(path) and response.status_code < 400:
            refused = jsonify(message="Export refused: its audit record could not be written.")
            refused.status_code = 503
            return refused
    return response


def is_export(path: str) -> bool:
    if SQLLAB_EXPORT.fullmatch(path):
        return True
    if CHART_DATA.fullmatch(path):
        return (chart_request().get("result_format") or request.args.get("format") or "").lower() in ("csv", "xlsx")
    if LEGACY_CHART_DATA.fullmatch(path):
        return request.args.get("csv") == "true" or request.args.get("xlsx") == "true"
    return False
