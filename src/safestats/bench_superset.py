"""`make bench`, Superset part: dashboard load time in a real browser (every chart rendered) and the p95 of
chart-data API calls, as a demo analyst, against the Superset serving this SAFESTATS_HOME (`make demo`)."""
from __future__ import annotations

import re
import statistics
import time

import requests
from rich.console import Console
from rich.table import Table

from safestats import credentials
from safestats.config import settings
from safestats.superset import server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BENCH_USER = "met_analyst"       # London-wide: the largest result sets of the demo users
RENDERED = ("() => { const h = [...document.querySelectorAll('.dashboard-component-chart-holder')];"
            " return h.length > 0 && h.every(c => !c.querySelector('.loading')"
            " && c.querySelector('svg, canvas, table, .big_number, [role=alert], .alert') !== null); }")


def _session(base: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'id="csrf_token"\s*value="([^"]+)"', s.get(f"{base}/login/").text).group(1)
    s.post(f"{base}/login/", data={"username": username, "password": password, "csrf_token": token})
    page = s.get(f"{base}/terms/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    s.post(f"{base}/terms/", data={"csrf_token": token, "next": "/superset/welcome/"})
    s.headers.update({"X-CSRFToken": token, "Referer": base})
    return s


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def chart_data_times(s: requests.Session, base: str, calls: int, force: bool) -> list[float]:
    datasets = s.get(f"{base}/api/v1/dataset/?q=(page_size:100)").json()["result"]
    ds = next(d["id"] for d in datasets if d["table_name"] == "fct_street_crimes")
    payload = {"datasource": {"id": ds, "type": "table"}, "force": force, "result_format": "json",
               "result_type": "full",
               "queries": [{"metrics": ["count"], "columns": ["borough_code", "category_group"], "row_limit": 10000}]}
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        s.post(f"{base}/api/v1/chart/data", json=payload).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def dashboard_times(base: str, username: str, password: str, repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/login/")
        page.wait_for_selector("input[type=password]")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/terms/**")
        page.click("#accept-conditions")
        page.wait_for_url("**/superset/welcome/**")
        for d in page.request.get(f"{base}/api/v1/dashboard/").json()["result"]:
            for _ in range(repeats):
                started = time.perf_counter()
                page.goto(f"{base}/superset/dashboard/{d['slug']}/")
                page.wait_for_function(RENDERED, timeout=120_000)
                found.setdefault(d["dashboard_title"], []).append(time.perf_counter() - started)
        browser.close()
    return found


def run(console: Console, calls: int = 40, repeats: int = 3) -> int:
    cfg = settings()
    if not server.status(cfg)["healthy"]:
        console.print("Superset bench skipped: Superset is not serving this install (run `make demo` first)")
        return 0
    base, password = server.url(), credentials.user_passwords(cfg).get(BENCH_USER)
    if password is None:
        console.print(f"Superset bench skipped: no credentials for {BENCH_USER} in this install")
        return 0
    s = _session(base, BENCH_USER, password)
    uncached = chart_data_times(s, base, calls, force=True)
    cached = chart_data_times(s, base, calls, force=False)
    table = Table(title=f"Superset as {BENCH_USER} ({base})")
    for col in ("measure", "runs", "median s", "p95 s"):
        table.add_column(col, justify="right")
    table.add_row("chart data API, uncached (force)", str(calls), f"{statistics.median(uncached):.3f}",
                  f"{p95(uncached):.3f}")
    table.add_row("chart data API, per-user cache", str(calls), f"{statistics.median(cached):.3f}",
                  f"{p95(cached):.3f}")
    for title, times in dashboard_times(base, BENCH_USER, password, repeats).items():
        table.add_row(f"dashboard '{title}', all charts rendered", str(len(times)),
                      f"{statistics.median(times):.2f}", f"{max(times):.2f} (max)")
    console.print(table)
    return 0
