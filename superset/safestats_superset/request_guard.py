"""Where a request may come from: only the app itself, in the user's own hands, makes Superset run a query.

Browsers say why they send a request (Sec-Fetch-Dest, Sec-Fetch-Site). An image, frame, script or style
request is refused on every route but /static/, so a picture or frame in user-written content cannot make a
viewer's browser run a chart, an export or a page; another site may link to a page but not call the API.
Refused too: chart data over a SQL Lab query (it reads any user's SQL); the legacy chart endpoint's GET
form (its response cache sits in front of Superset's own permission check); SQL Lab's server-side tab state
(its update takes any column, the owner included, so a tab could be handed to another user to run: tabs
stay in the browser); and any SQL Lab statement but a query (Superset's own DML check lets ALTER ROLE and
COMMIT through).
"""
from __future__ import annotations

import json
import re

from flask import jsonify, request

from safestats_superset.gate import has_bearer

STATIC = re.compile(r"/static/.+")
NAVIGATIONS = {"", "empty", "document"}         # fetch/XHR from the app, or the user opening a page
TRUSTED_SITES = {"", "same-origin", "none"}     # the app itself, or a URL the user typed or bookmarked
DATA_ROUTE = re.compile(r"/api/.*|/superset/(explore_json|csv|results|fetch_datasource_metadata|slice_json)/.*"
                        r"|/datasource/.*|/sqllab/.*")
CHART_DATA = re.compile(r"/api/v1/chart/data/?")
LEGACY_DATA = re.compile(r"/superset/explore_json/.*")
LEGACY_KEY_VALUE = re.compile(r"/api/v1/sqllab/permalink/kv:.*")   # the old key-value table: no owner at all
SQLLAB_STATE = re.compile(r"/(tabstateview|tableschemaview)(/.*)?")
SQLLAB_EXECUTE = re.compile(r"/api/v1/sqllab/execute/?")
QUERIES = ("Select", "Union", "Intersect", "Except", "Values", "Subquery")


REFUSED_BY = ("X-SafeStats-Refused", "request-guard")


def _refused(message: str, status: int = 403):
    response = jsonify(message=message)
    response.status_code = status
    response.headers[REFUSED_BY[0]] = REFUSED_BY[1]
    return response


def _chart_datasource_kinds() -> set[str]:
    payload = request.get_json(silent=True) if request.is_json else None
    if payload is None and request.form.get("form_data"):
        try:
            payload = {"datasource": json.loads(request.form["form_data"]).get("datasource")}
        except ValueError:
            payload = None
    if not isinstance(payload, dict):
        return set()
    datasource = payload.get("datasource")
    kinds = {str(datasource.get("type"))} if isinstance(datasource, dict) else set()
    if isinstance(datasource, str) and "__" in datasource:
        kinds.add(datasource.split("__", 1)[1])
    return kinds


def refuse():
    path = request.path
    if STATIC.fullmatch(path):
        return None
    dest = request.headers.get("Sec-Fetch-Dest", "").lower()
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    if dest not in NAVIGATIONS:
        return _refused(f"Refused: SafeStats does not answer a request for a {dest!r} (it could have been made "
                        "by content on a page rather than by you).")
    if site not in TRUSTED_SITES and (DATA_ROUTE.fullmatch(path) or request.method != "GET" or dest != "document"):
        return _refused("Refused: this request came from another site.")
    if CHART_DATA.fullmatch(path) and request.method == "POST" and "query" in _chart_datasource_kinds():
        return _refused("Charts read datasets, not SQL Lab queries: save the query as a dataset first.")
    if LEGACY_DATA.fullmatch(path) and request.method == "GET" and not has_bearer():
        return _refused("The legacy chart endpoint answers POST requests from the app only.", 405)
    if LEGACY_KEY_VALUE.fullmatch(path):
        return _refused("Legacy SQL Lab links are not served.", 404)
    if SQLLAB_STATE.fullmatch(path):
        return _refused("SQL Lab keeps its tabs in your browser.", 404)
    if SQLLAB_EXECUTE.fullmatch(path) and request.method == "POST":
        problem = not_a_query((request.get_json(silent=True) or {}).get("sql"))
        if problem:
            return _refused(f"SQL Lab runs queries only (SELECT, WITH, VALUES): {problem}.", 400)
    return None


def not_a_query(text) -> str | None:
    """Why the SQL is not one or more plain queries, or None. What cannot be parsed is refused."""
    import sqlglot

    if not isinstance(text, str) or not text.strip():
        return "no SQL"
    try:
        statements = [s for s in sqlglot.parse(text, read="postgres") if s is not None]
    except Exception:
        return "the statement could not be read"
    for statement in statements:
        kind = type(statement).__name__
        if kind not in QUERIES:
            return f"{statement.sql(dialect='postgres')[:60]!r} is not a query"
        if statement.args.get("into") is not None:
            return "SELECT ... INTO makes a table"
    return None if statements else "no SQL"
