"""No internals in an error a user sees. A failed request's JSON (chart data, SQL Lab, explore) that shows a
fault in the platform's own connection (its database login, a server socket or file path, a stack trace) says
instead, in the user's terms, that the platform failed and whom to tell; an error in the user's own query keeps
PostgreSQL's words without the driver's wrapping (exception class, library help link). Refusals by the
agreement (security.refusal) pass unchanged."""
from __future__ import annotations

import json
import re

from flask import Response, request
from flask_login import current_user

from safestats_superset import runtime

# A fault in the platform's own connection (login, socket, host): the whole answer is replaced.
PLATFORM_FAULT = re.compile(
    r"\.s\.PGSQL\.\d+|on socket|connection to server|could not connect|password authentication failed|"
    r"Traceback \(most recent call last\)|File \"|"
    r"(?<![\w.])/(?:tmp|home|var|usr|opt|work|root|srv|etc|run|proc|data|mnt)/[\w.-]+",
    re.IGNORECASE)
PLATFORM_ERROR_TYPES = re.compile(r"CONNECTION_[A-Z_]+_ERROR")
# A driver's wrapping around PostgreSQL's own words about the user's query: removed, the words kept.
DRIVER_WRAPPING = re.compile(r"\((?:psycopg2?|sqlalchemy)[\w.]*\)\s*|\s*\(Background on this error at: [^)]*\)"
                             r"|\s*\[SQL: .*?\]\s*$", re.IGNORECASE | re.DOTALL)
ROUTES = re.compile(r"/api/v1/.*|/superset/(explore_json|sql_json|csv|results)/.*")


def message(username: str | None) -> str:
    admins = ", ".join((runtime.named_users().get(username or "") or {}).get("administrators") or [])
    contact = runtime.conditions().get("report_breaches_to") or "the SafeStats platform team"
    return ("SafeStats could not reach the warehouse for you just now (a fault on the platform's side, not in "
            f"your query or your agreement). Nothing was shown. Try again in a few minutes; if it goes on, tell "
            f"{admins or 'your organisation administrator'} or {contact}.")


def _walk(value, found: list):
    """The value with drivers' wrapping removed from every string; `found` told of any platform fault."""
    if isinstance(value, dict):
        if PLATFORM_ERROR_TYPES.fullmatch(str(value.get("error_type") or "")):
            found.append(True)
        return {k: _walk(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, found) for v in value]
    if isinstance(value, str):
        if PLATFORM_FAULT.search(value):
            found.append(True)
        return DRIVER_WRAPPING.sub("", value)
    return value


def plain(response: Response) -> Response:
    """after_request: only failed JSON answers of the data routes are read (every other response passes)."""
    if response.status_code < 400 or not ROUTES.fullmatch(request.path) or response.mimetype != "application/json":
        return response
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        return response
    found: list = []
    cleaned = _walk(body, found)
    if found:
        text = message(current_user.username if current_user.is_authenticated else None)
        cleaned = {"message": text, "errors": [
            {"message": text, "error_type": "SAFESTATS_PLATFORM_FAULT", "level": "error", "extra": {}}]}
    if cleaned != body:
        response.set_data(json.dumps(cleaned))
    return response
