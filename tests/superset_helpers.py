"""What the Superset tests share: logging in as a browser would, the REST calls an analyst's browser makes,
the audit events they leave, and a real headless Chromium."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from safestats.config import PROJECT_DIR
from safestats.policies import service
from safestats.superset import login_page

SUPERSET_DIR = PROJECT_DIR / "superset"


def superset_module(name: str):
    """A module of the Superset add-on (superset/safestats_superset/), imported without leaving its folder on
    sys.path."""
    import importlib
    import sys

    sys.path.insert(0, str(SUPERSET_DIR))
    try:
        return importlib.import_module(f"safestats_superset.{name}")
    finally:
        sys.path.remove(str(SUPERSET_DIR))
ECHARTS_ANIMATION_MS = 1500     # ECharts' draw-in animation (1 s by default), for screenshots only
OUTPUT = Path(os.environ.get("SAFESTATS_TEST_OUTPUT") or PROJECT_DIR / "test-output") / "superset"



def worker_port(variable: str, default: int) -> int:
    """The loopback port a server the tests start binds: from `variable` (or `default`), and 100 higher for each
    pytest-xdist worker after the first (gw1 binds 8299 where gw0 binds 8199), so two workers never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    return int(os.environ.get(variable) or default) + 100 * index


# The session's Superset and the weakened one beside it (tests/conftest.py)
SUPERSET_PORT = worker_port("SAFESTATS_TEST_SUPERSET_PORT", 8199)
WEAKENED_PORT = worker_port("SAFESTATS_TEST_WEAKENED_PORT", 8198)


def sql_as(cfg, username: str, query: str, params=()) -> list[tuple]:
    with psycopg.connect(service.user_endpoint(username, cfg).conninfo(), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def one_time_code(username: str, cfg=None) -> str:
    """The code the user's authenticator shows now, from their enrolled secret (read as the superuser).
    A time step is accepted once per user and the tests log the same user in many times a minute, so this
    first takes the user's last accepted step back before the steps now acceptable (test set-up, as the
    superuser); test_org_admin shows a spent code refused with no such help."""
    from safestats import database
    from safestats.config import settings
    from safestats.policies import governance

    with psycopg.connect(database.endpoint(cfg or settings()).conninfo(), autocommit=True) as conn:
        conn.execute("update governance.second_factors set last_step = least(last_step, %s) where username = %s",
                     (int(time.time()) // governance.TOTP_STEP_SECONDS - 2, username))
        return governance.current_code(conn, username)


def _refusal(resp: requests.Response) -> str:
    """What a form that did not move on says (its alert, else its status), for an assertion's message."""
    alert = re.search(r'role="alert"[^>]*>(.*?)</', resp.text, re.S) or re.search(r'class="alert[^"]*"[^>]*>(.*?)</',
                                                                                 resp.text, re.S)
    return f"{resp.status_code} {alert.group(1).strip() if alert else resp.headers.get('Location', '')}"


def pass_second_factor(s: requests.Session, base: str, username: str, cfg=None) -> requests.Response | None:
    """Give the one-time code when the app asks for it (a session that is not logged in is not asked)."""
    asked = s.get(f"{base}/second-factor/", allow_redirects=False)
    if asked.status_code != 200:
        return None
    token = re.search(r'name="csrf_token" value="([^"]+)"', asked.text).group(1)
    # FAB finds users case-insensitively; the code is the account's (usernames are lower-case)
    resp = s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": one_time_code(username.lower(), cfg)},
                  allow_redirects=False)
    assert resp.status_code == 302 and "/terms/" in resp.headers["Location"], (
        f"{username}'s one-time code was refused: {_refusal(resp)}")
    return resp


def login(base: str, username: str, password: str, accept: bool = True, second_factor: bool = True,
          cfg=None, refused: bool = False) -> requests.Session:
    """A browser-like session: FAB's login form, the one-time code, then (optionally) the conditions page.
    Each step must move on, or the assertion says which refused; `refused` expects the password refused."""
    s = requests.Session()
    page = s.get(f"{base}/login/")
    token = re.search(r'id="csrf_token"\s*value="([^"]+)"', page.text).group(1)
    resp = s.post(f"{base}/login/", data={"username": username, "password": password, "csrf_token": token},
                  allow_redirects=False)
    moved_on = resp.status_code == 302 and urlsplit(resp.headers["Location"]).path.rstrip("/") != "/login"
    assert moved_on != refused, f"{username}'s password was {'accepted' if moved_on else 'refused'}: {_refusal(resp)}"
    if refused:
        return s
    if second_factor:
        pass_second_factor(s, base, username, cfg)
    if accept:
        resp = accept_terms(s, base)
        assert resp.status_code == 302, f"{username}'s acceptance of the conditions of use failed: {_refusal(resp)}"
    return s


def accept_terms(s: requests.Session, base: str) -> requests.Response:
    page = s.get(f"{base}/terms/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    version = re.search(r'name="version" value="([^"]+)"', page.text)
    assert version, f"the conditions page did not offer the conditions: {page.url} {_refusal(page)}"
    resp = s.post(f"{base}/terms/", data={"csrf_token": token, "next": "/superset/welcome/",
                                          "version": version.group(1)}, allow_redirects=False)
    s.headers.update({"X-CSRFToken": token, "Referer": base})
    return resp


def jwt(base: str, username: str, password: str) -> dict:
    resp = requests.post(f"{base}/api/v1/security/login", json={"username": username, "password": password,
                                                                "provider": "db", "refresh": False})
    resp.raise_for_status()
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def dataset_ids(s: requests.Session, base: str, headers=None) -> dict[str, int]:
    resp = s.get(f"{base}/api/v1/dataset/?q=(page_size:100)", headers=headers or {})
    resp.raise_for_status()
    return {f"{d['schema']}.{d['table_name']}": d["id"] for d in resp.json()["result"]}


def chart_data(s: requests.Session, base: str, dataset_id: int, fmt: str = "json", columns=(),
               row_limit: int = 1000) -> requests.Response:
    return s.post(f"{base}/api/v1/chart/data", json={
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"metrics": ["count"], "columns": list(columns), "filters": [], "row_limit": row_limit}],
        "result_format": fmt, "result_type": "full"})


def sqllab(s: requests.Session, base: str, sql: str, client_id: str) -> requests.Response:
    db_id = s.get(f"{base}/api/v1/database/").json()["result"][0]["id"]
    return s.post(f"{base}/api/v1/sqllab/execute/", json={"database_id": db_id, "sql": sql, "schema": "marts",
                                                           "runAsync": False, "client_id": client_id,
                                                           "queryLimit": 1000})


def events(superuser, since: int, **where) -> list[dict]:
    clauses = " and ".join(f"{k} = %s" for k in where)
    rows = superuser.execute(
        "select event_id, username, organisation, event_type, object, detail from audit.events"
        f" where event_id > %s {'and ' + clauses if clauses else ''} order by event_id",
        (since, *where.values())).fetchall()
    return [dict(zip(("event_id", "username", "organisation", "event_type", "object", "detail"), r)) for r in rows]


def last_event_id(superuser) -> int:
    return superuser.execute("select coalesce(max(event_id), 0) from audit.events").fetchone()[0]


def browser_login(browser, base: str, username: str, password: str, *, refused: bool = False):
    """Log in through the login page (`submit_password`), then give the one-time code when asked
    (`submit_one_time_code`)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    submit_password(page, base, username, password, refused=refused)
    if not refused and "/second-factor/" in page.url:
        submit_one_time_code(page, username)
    return context, page


def submit_password(page, base: str, username: str, password: str, *, refused: bool = False) -> None:
    """safestats.superset.login_page's, shooting a form that stays put into the tests' output."""
    login_page.submit_password(page, base, username, password, OUTPUT, refused=refused)


def submit_one_time_code(page, username: str) -> None:
    """safestats.superset.login_page's, with the code of the moment read for the tests (`one_time_code`)."""
    login_page.submit_one_time_code(page, username, lambda: one_time_code(username), OUTPUT)


def render_dashboard(page, base: str, slug: str, shot: str) -> float:
    """Open a dashboard and wait until every chart has rendered or shown its error; returns seconds."""
    started = time.monotonic()
    page.goto(f"{base}/superset/dashboard/{slug}/")
    page.wait_for_selector(".dashboard-component-chart-holder", timeout=60_000)
    page.wait_for_function(
        "() => { const h = [...document.querySelectorAll('.dashboard-component-chart-holder')];"
        " return h.length > 0 && h.every(c => !c.querySelector('.loading, [aria-label=\"Loading\"]')"
        " && (c.querySelector('svg, canvas, table, .big_number, .superset-legacy-chart-country-map, "
        "[role=alert], .alert') !== null)); }", timeout=60_000)
    elapsed = time.monotonic() - started
    page.wait_for_timeout(ECHARTS_ANIMATION_MS)   # lines draw in from the left; the shot shows them whole
    page.screenshot(path=str(OUTPUT / shot), full_page=True)
    return elapsed
