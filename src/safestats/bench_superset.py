"""`make bench`, Superset part: every dashboard each bench user can open, rendered in a real browser (every chart
drawn) cold (Superset's data cache and the browser's emptied; COLD_RENDERS times, the median and the range) and
warm; the chart-data requests those renders made, replayed through the API uncached (force) and from the per-user
cache; and the SQL behind them run in PostgreSQL as the user's own login (row-level security) and as the owner
(row security bypassed). Against the Superset serving the install in `cfg` (`make demo`, or a history home of
`make bench-history`)."""
from __future__ import annotations

import dataclasses
import re
import statistics
import time
from urllib.parse import urlencode

import psycopg
import requests
from rich.console import Console
from rich.table import Table

from safestats import credentials, database
from safestats.browser import CHROMIUM, CHROMIUM_ARGS
from safestats.config import Settings, settings
from safestats.superset import login_page, server

# One user of each kind of agreement: a borough's record-level analyst, London-wide record level (the largest
# result sets), and an organisation given aggregates only.
BENCH_USERS = {"borough (camden_analyst)": "camden_analyst", "the Met (met_analyst)": "met_analyst",
               "aggregate-only (vru_analyst)": "vru_analyst"}
RENDERED = ("() => { const h = [...document.querySelectorAll('.dashboard-component-chart-holder')];"
            " return h.length > 0 && h.every(c => !c.querySelector('.loading')"
            " && c.querySelector('svg, canvas, table, .big_number, [role=alert], .alert') !== null); }")
CHART_DATA = "/api/v1/chart/data"
# A dashboard's page and charts may wait behind the previous one's queries, still running in Superset at ten years.
RENDER_TIMEOUT_MS = 600_000
CHART_P95_TARGET_S = 0.3
RLS_RATIO_TARGET = 1.2
DASHBOARD_COLD_TARGET_S = 3.0
# One cold render of the same dashboard varies by 0.5 s or more on two cores (2.42 to 3.61 s in three in a row):
# the figure is the median of three, shown with their range.
COLD_RENDERS = 3


@dataclasses.dataclass(frozen=True)
class ChartRequest:
    """A chart-data request a dashboard made, as the browser sent it."""
    url: str
    body: str
    json: dict | None

    def replay(self, s: requests.Session, force: bool) -> requests.Response:
        if self.json is not None:
            return s.post(self.url, json={**self.json, "force": force})
        url = self.url + ("&" if "?" in self.url else "?") + urlencode({"force": str(force).lower()})
        return s.post(url, data=self.body, headers={"Content-Type": "application/x-www-form-urlencoded"})


@dataclasses.dataclass
class UserFigures:
    dashboards_cold: dict[str, float] = dataclasses.field(default_factory=dict)     # the median of the renders
    cold_range: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    dashboards_warm: dict[str, float] = dataclasses.field(default_factory=dict)
    uncached: list[float] = dataclasses.field(default_factory=list)
    cached: list[float] = dataclasses.field(default_factory=list)
    refused: dict[str, int] = dataclasses.field(default_factory=dict)   # why (status, message) -> requests
    with_rls: list[float] = dataclasses.field(default_factory=list)
    as_owner: list[float] = dataclasses.field(default_factory=list)

    @property
    def rls_ratio(self) -> float | None:
        return sum(self.with_rls) / sum(self.as_owner) if self.as_owner and sum(self.as_owner) else None


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def _session(cfg: Settings, base: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'id="csrf_token"\s*value="([^"]+)"', s.get(f"{base}/login/").text).group(1)
    s.post(f"{base}/login/", data={"username": username, "password": password, "csrf_token": token})
    page = s.get(f"{base}/second-factor/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": _code(cfg, username)})
    page = s.get(f"{base}/terms/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    version = re.search(r'name="version" value="([^"]+)"', page.text).group(1)
    s.post(f"{base}/terms/", data={"csrf_token": token, "next": "/superset/welcome/", "version": version})
    s.headers.update({"X-CSRFToken": token, "Referer": base})
    return s


def _code(cfg: Settings, username: str) -> str:
    """The user's one-time code now, as their authenticator would show it (the bench reads the secret)."""
    from safestats.policies import governance

    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        return governance.current_code(conn, username)


def _login(cfg: Settings, page, base: str, username: str, password: str) -> None:
    shots = cfg.home / "bench-shots"      # a login form that stays put is shot here
    shots.mkdir(parents=True, exist_ok=True)
    login_page.submit_password(page, base, username, password, shots)
    login_page.submit_one_time_code(page, username, lambda: _code(cfg, username), shots)
    page.wait_for_url("**/terms/**")
    page.click("#accept-conditions")
    page.wait_for_url("**/home/**")


def render_dashboards(cfg: Settings, base: str, username: str, password: str,
                      figures: UserFigures) -> list[ChartRequest]:
    """Each dashboard the user can open, rendered cold COLD_RENDERS times then warm; returns the chart-data
    requests the first cold render made."""
    from playwright.sync_api import sync_playwright

    made: list[ChartRequest] = []

    def record(request) -> None:
        if request.method == "POST" and (CHART_DATA in request.url or "/superset/explore_json/" in request.url):
            body = request.post_data or ""
            made.append(ChartRequest(request.url, body, request.post_data_json if CHART_DATA in request.url
                                     else None))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _login(cfg, page, base, username, password)
        cdp = page.context.new_cdp_session(page)
        dashboards = page.request.get(f"{base}/api/v1/dashboard/?q=(page_size:100)").json()["result"]
        for d in sorted(dashboards, key=lambda d: d["dashboard_title"]):
            url, title = f"{base}/superset/dashboard/{d['slug'] or d['id']}/", d["dashboard_title"]
            cold = []
            for n in range(COLD_RENDERS):
                server.clear_data_cache(cfg)
                cdp.send("Network.clearBrowserCache")
                cold.append(_render(page, url, record if n == 0 else None))
            figures.dashboards_cold[title] = statistics.median(cold)
            figures.cold_range[title] = (min(cold), max(cold))
            figures.dashboards_warm[title] = _render(page, url, None)
        browser.close()
    return made


def _render(page, url: str, record) -> float:
    """Seconds from asking for the dashboard to every chart drawn; `record` sees each request on the way."""
    if record:
        page.on("request", record)
    started = time.perf_counter()
    page.goto(url, timeout=RENDER_TIMEOUT_MS)
    page.wait_for_function(RENDERED, timeout=RENDER_TIMEOUT_MS)
    elapsed = time.perf_counter() - started
    if record:
        page.remove_listener("request", record)
    return elapsed


def replay(s: requests.Session, made: list[ChartRequest], repeats: int, figures: UserFigures) -> None:
    """Every chart-data request, uncached (force) then from the per-user cache, `repeats` times each."""
    for force, times in ((True, figures.uncached), (False, figures.cached)):
        for request in made:
            for _ in range(repeats):
                started = time.perf_counter()
                resp = request.replay(s, force)
                elapsed = time.perf_counter() - started
                if resp.status_code == 200:
                    times.append(elapsed)
                elif force:
                    why = f"{resp.status_code} {_message(resp)}"
                    figures.refused[why] = figures.refused.get(why, 0) + 1


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:120]
    errors = body.get("errors") or [{}]
    return str(errors[0].get("message") or body.get("message") or "")[:120]


def chart_sql(s: requests.Session, made: list[ChartRequest]) -> list[str]:
    """The SQL Superset runs for each chart-data request it answers (result_type 'query')."""
    found: list[str] = []
    for request in made:
        if request.json is None:
            continue
        resp = s.post(request.url, json={**request.json, "result_type": "query"})
        if resp.status_code == 200:
            found += [q["query"] for q in resp.json().get("result", []) if q.get("query")]
    return list(dict.fromkeys(found))


def _run_timed(conn: psycopg.Connection, sql: str) -> float | None:
    started = time.perf_counter()
    try:
        conn.execute(sql).fetchall()
    except psycopg.Error:
        conn.rollback()
        return None
    conn.rollback()
    return time.perf_counter() - started


def rls_overhead(cfg: Settings, username: str, password: str, sqls: list[str], repeats: int,
                 figures: UserFigures) -> None:
    """Each query's median time as the user (policies applied) and as the owner (row security bypassed), the
    two alternating so that a machine slowing down moves both."""
    owner_ep = database.endpoint(cfg)
    with psycopg.connect(owner_ep.as_user(username, password).conninfo()) as user, \
            psycopg.connect(owner_ep.conninfo()) as owner:
        for sql in sqls:
            pairs = [(_run_timed(user, sql), _run_timed(owner, sql)) for _ in range(repeats)]
            if any(u is None or o is None for u, o in pairs):
                continue
            figures.with_rls.append(statistics.median(u for u, _ in pairs))
            figures.as_owner.append(statistics.median(o for _, o in pairs))


def measure(cfg: Settings, console: Console, repeats: int = 3,
            users: dict[str, str] = BENCH_USERS) -> dict[str, UserFigures]:
    """The figures for each bench user with credentials in this install (Superset must be serving it)."""
    base, passwords = server.url(), credentials.user_passwords(cfg)
    results: dict[str, UserFigures] = {}
    for label, username in users.items():
        if username not in passwords:
            console.print(f"Superset bench: no credentials for {username} in this install; skipped")
            continue
        figures = results[label] = UserFigures()
        with console.status(f"Superset bench: rendering {username}'s dashboards"):
            made = render_dashboards(cfg, base, username, passwords[username], figures)
        s = _session(cfg, base, username, passwords[username])
        with console.status(f"Superset bench: replaying {len(made)} chart-data requests as {username}"):
            replay(s, made, repeats, figures)
            rls_overhead(cfg, username, passwords[username], chart_sql(s, made), repeats, figures)
    return results


def _seconds(values: list[float], fn) -> str:
    return f"{fn(values):.3f}" if values else "-"


def figures_table(results: dict[str, UserFigures], title: str) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    for label in results:
        table.add_column(label, justify="right")
    rows = [
        ("chart data, uncached: requests (refused)",
         lambda f: f"{len(f.uncached)} ({sum(f.refused.values())})"),
        ("chart data, uncached: p50 / p95 s",
         lambda f: f"{_seconds(f.uncached, statistics.median)} / {_seconds(f.uncached, p95)}"),
        ("chart data, per-user cache: p50 / p95 s",
         lambda f: f"{_seconds(f.cached, statistics.median)} / {_seconds(f.cached, p95)}"),
        ("chart SQL with row-level security: p50 / p95 s",
         lambda f: f"{_seconds(f.with_rls, statistics.median)} / {_seconds(f.with_rls, p95)}"),
        ("the same SQL as the owner: p50 / p95 s",
         lambda f: f"{_seconds(f.as_owner, statistics.median)} / {_seconds(f.as_owner, p95)}"),
        ("RLS overhead (total time ratio)",
         lambda f: f"{f.rls_ratio:.2f}" if f.rls_ratio else "-"),
    ]
    for name, cell in rows:
        table.add_row(name, *(cell(f) for f in results.values()))
    dashboards = sorted({d for f in results.values() for d in f.dashboards_cold})
    for d in dashboards:
        table.add_row(f"dashboard '{d}': cold (range) / warm s", *(_render_cell(f, d) for f in results.values()))
    return table


def _render_cell(f: UserFigures, dashboard: str) -> str:
    if dashboard not in f.dashboards_cold:
        return "(not listed)"
    low, high = f.cold_range.get(dashboard, (f.dashboards_cold[dashboard],) * 2)
    return f"{f.dashboards_cold[dashboard]:.2f} ({low:.2f}-{high:.2f}) / {f.dashboards_warm[dashboard]:.2f}"


def verdicts(results: dict[str, UserFigures]) -> list[str]:
    def verdict(value: float, target: float) -> str:
        return "meets" if value <= target else "misses"

    lines = []
    for label, f in results.items():
        for why, count in sorted(f.refused.items()):
            lines.append(f"{label}: {count} chart-data request(s) refused: {why}")
        if f.uncached:
            lines.append(f"{label}: chart data p95 uncached {p95(f.uncached):.3f} s "
                         f"({verdict(p95(f.uncached), CHART_P95_TARGET_S)} the {CHART_P95_TARGET_S} s target)")
        if f.rls_ratio:
            lines.append(f"{label}: RLS overhead {f.rls_ratio:.2f} "
                         f"({verdict(f.rls_ratio, RLS_RATIO_TARGET)} the {RLS_RATIO_TARGET} target)")
        if f.dashboards_cold:
            slowest = max(f.dashboards_cold, key=f.dashboards_cold.get)
            lines.append(f"{label}: slowest cold dashboard '{slowest}' {f.dashboards_cold[slowest]:.2f} s, "
                         f"median of {COLD_RENDERS} "
                         f"({verdict(f.dashboards_cold[slowest], DASHBOARD_COLD_TARGET_S)} the "
                         f"{DASHBOARD_COLD_TARGET_S} s target)")
    return lines


def report(cfg: Settings, console: Console, title: str, repeats: int = 3,
           users: dict[str, str] = BENCH_USERS) -> dict[str, UserFigures]:
    results = measure(cfg, console, repeats, users)
    if results:
        console.print(figures_table(results, title))
        for line in verdicts(results):
            console.print(line)
    return results


def run(console: Console, repeats: int = 3) -> int:
    cfg = settings()
    if not server.status(cfg)["healthy"]:
        console.print("Superset bench skipped: Superset is not serving this install (run `make demo` first)")
        return 0
    report(cfg, console, f"Superset ({server.url()}), one user per kind of agreement", repeats)
    return 0
