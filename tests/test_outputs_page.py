"""The outputs page gives each organisation exactly the outputs its agreement gives it, and nothing else by any
path: not another organisation's file by its URL, not a file the manifest does not list, not a file changed
since it was listed; every download and refusal is audited. On the session's Superset (conftest), with an
outputs area planted here (the reports' own content is tested in tests/test_outputs_*.py)."""
from __future__ import annotations

import re
import shutil

import psycopg
import pytest
import requests
from superset_helpers import OUTPUT, browser_login, events, last_event_id, login

from safestats.outputs import audience
from safestats.outputs.area import Area, root


def _audiences_of(slug: str) -> list[str]:
    from datetime import date

    from safestats.policies import compiler, service

    loaded = service.load()
    grants = compiler.compile_grants(loaded.agreements, loaded.catalogue, date.today())
    return audience.audiences(loaded.agreements.organisations[slug], date.today(), grants)


def _one(slug: str, prefix: str) -> str:
    (found,) = [a for a in _audiences_of(slug) if a.startswith(prefix)]
    return found


CAMDEN_TREND, MET_TREND, HACKNEY_CORE = _one("camden", "trend:"), _one("metropolitan-police", "trend:"), \
    _one("hackney", "core:")
PLANTED = {   # path -> (kind, audience)
    "trend_reports/2025Q4/camden-variant/london.html": ("trend_report", CAMDEN_TREND),
    "trend_reports/2025Q4/camden-variant/london.pdf": ("trend_report", CAMDEN_TREND),
    "trend_reports/2025Q4/met-variant/E09000007.pdf": ("trend_report", MET_TREND),
    "core_dataset/2025-12/hackney-variant/borough-core-violence-2025-12-london.csv": ("core_dataset", HACKNEY_CORE),
    "hospital_reports/2025-12/RKEQ4.html": ("hospital_report", audience.site("RKEQ4")),
    "hospital_reports/2025-12/RJ122.html": ("hospital_report", audience.site("RJ122")),
    "hospital_reports/2025-12/league_table.html": ("hospital_league_table", audience.ISTV_PROGRAMME),
    "supplier_feedback/metropolitan/summary-2026-01-02.csv": ("supplier_summary", audience.supplier("metropolitan")),
    "supplier_feedback/rkeq4/summary-2026-01-02.csv": ("supplier_summary", audience.supplier("rkeq4")),
}
CAMDEN_TRENDS = {"trend_reports/2025Q4/camden-variant/london.html", "trend_reports/2025Q4/camden-variant/london.pdf"}
EXPECTED = {   # user -> the planted paths their organisation's agreement gives it
    "camden_analyst": CAMDEN_TRENDS,
    "hackney_analyst": {"core_dataset/2025-12/hackney-variant/borough-core-violence-2025-12-london.csv"},
    "met_analyst": {"trend_reports/2025Q4/met-variant/E09000007.pdf",
                    "supplier_feedback/metropolitan/summary-2026-01-02.csv"},
    "vru_analyst": CAMDEN_TRENDS | {"hospital_reports/2025-12/RKEQ4.html", "hospital_reports/2025-12/RJ122.html",
                                    "hospital_reports/2025-12/league_table.html"},
    "whittington_analyst": {"hospital_reports/2025-12/RKEQ4.html",
                            "supplier_feedback/rkeq4/summary-2026-01-02.csv"},
}


def _content(path: str) -> bytes:
    if path.endswith(".pdf"):
        return b"%PDF-1.4\n% planted for " + path.encode() + b"\n%%EOF\n"
    if path.endswith(".html"):
        return f"<!doctype html><html><body><h1>planted</h1><p>{path}</p></body></html>".encode()
    return f"planted,for\n{path},1\n".encode()


@pytest.fixture(scope="module")
def planted(cfg, superset):
    shutil.rmtree(root(cfg), ignore_errors=True)      # only what this module plants
    area = Area(root(cfg))
    for path, (kind, aud) in PLANTED.items():
        area.write(path, _content(path), kind=kind, title=f"Planted {kind}", period=path.split("/")[1],
                   subject=path.rsplit("/", 1)[-1].split(".")[0], audience=aud)
    area.save()
    (root(cfg) / "unlisted").mkdir(exist_ok=True)
    (root(cfg) / "unlisted" / "secret.csv").write_text("not in the manifest\n")
    return root(cfg)


@pytest.fixture
def superuser_conn(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("username", sorted(EXPECTED))
def test_each_organisation_sees_and_downloads_exactly_its_outputs(base, passwords, planted, superuser_conn,
                                                                  username):
    s = login(base, username, passwords[username])
    since = last_event_id(superuser_conn)
    listing = s.get(f"{base}/outputs/")
    assert listing.status_code == 200, listing.text[:300]

    listed = set(re.findall(r'data-path="([^"]+)"', listing.text))
    assert listed == EXPECTED[username]
    for path in PLANTED:
        resp = s.get(f"{base}/outputs/file/{path}", allow_redirects=False)
        if path in EXPECTED[username]:
            assert resp.status_code == 200, (path, resp.status_code)
            assert resp.content == _content(path)
            assert resp.headers["Cache-Control"] == "no-store"
            assert "sandbox" in resp.headers["Content-Security-Policy"]
        else:       # another organisation's output answers as a file that does not exist
            assert resp.status_code == 404, (path, resp.status_code)
            assert b"planted" not in resp.content
    downloaded = {e["object"] for e in events(superuser_conn, since, username=username,
                                               event_type="output_downloaded")}
    refused = {e["object"] for e in events(superuser_conn, since, username=username, event_type="output_refused")}
    assert downloaded == EXPECTED[username]
    assert refused == {f"/outputs/file/{p}" for p in set(PLANTED) - EXPECTED[username]}


@pytest.mark.parametrize("path", [
    "unlisted/secret.csv", "../credentials.json", "..%2Fcredentials.json", "manifest.json", "state.json",
    "trend_reports/2025Q4/camden-variant/../../../credentials.json", "%2e%2e/user_credentials.json",
    "trend_reports/2025Q4/camden-variant/london.html%00.csv", "TREND_REPORTS/2025Q4/camden-variant/london.html"])
def test_only_a_listed_file_is_ever_served(base, passwords, planted, path):
    s = login(base, "vru_analyst", passwords["vru_analyst"])
    resp = s.get(f"{base}/outputs/file/{path}", allow_redirects=False)
    assert resp.status_code == 404, (path, resp.status_code)
    assert b"planted" not in resp.content and b"password" not in resp.content.lower()


def test_a_head_request_is_neither_served_nor_counted_as_a_download(base, passwords, planted, superuser_conn):
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    since = last_event_id(superuser_conn)
    resp = s.head(f"{base}/outputs/file/trend_reports/2025Q4/camden-variant/london.html", allow_redirects=False)
    assert resp.status_code == 405
    assert not events(superuser_conn, since, username="camden_analyst", event_type="output_downloaded")


def test_a_file_changed_since_it_was_listed_is_not_served(base, passwords, planted):
    path = planted / "trend_reports/2025Q4/camden-variant/london.html"
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b"planted", b"altered"))
        s = login(base, "camden_analyst", passwords["camden_analyst"])
        resp = s.get(f"{base}/outputs/file/trend_reports/2025Q4/camden-variant/london.html", allow_redirects=False)
        assert resp.status_code == 409 and b"altered" not in resp.content
    finally:
        path.write_bytes(original)


def test_no_output_before_the_conditions_or_without_a_named_user(base, passwords, planted):


    anonymous = requests.get(f"{base}/outputs/file/trend_reports/2025Q4/camden-variant/london.html",
                             allow_redirects=False)
    assert anonymous.status_code in (302, 401, 404) and b"planted" not in anonymous.content
    unaccepted = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    resp = unaccepted.get(f"{base}/outputs/file/trend_reports/2025Q4/camden-variant/london.html", allow_redirects=False)
    assert resp.status_code in (302, 401, 403) and b"planted" not in resp.content
    password_only = login(base, "camden_analyst", passwords["camden_analyst"], accept=False, second_factor=False)
    resp = password_only.get(f"{base}/outputs/", allow_redirects=False)
    assert resp.status_code in (302, 401) and b"planted" not in resp.content


def test_outputs_page_in_a_browser(browser, base, passwords, planted):
    context, page = browser_login(browser, base, "whittington_analyst", passwords["whittington_analyst"])
    try:
        page.goto(f"{base}/terms/")
        if page.locator("button[type=submit]").count():
            page.click("button[type=submit]")
        page.goto(f"{base}/home/")
        page.click("#outputs")
        page.wait_for_selector("table.list")
        page.screenshot(path=str(OUTPUT / "outputs-01-whittington.png"), full_page=True)
        links = set(page.eval_on_selector_all("a[data-path]", "els => els.map(e => e.dataset.path)"))
        assert links == EXPECTED["whittington_analyst"]
    finally:
        context.close()
