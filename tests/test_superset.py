"""Superset on the warehouse, end to end: conditions of use, identity pass-through, the per-user cache, audit of
logins, queries and exports, provisioning from access_policies/, and an analyst's journey in a real browser.

One Superset server for the session (conftest `superset`); numbers are checked against SQL run as the same
user with their own PostgreSQL login.
"""
from __future__ import annotations

import html
import json
import re
import time
from datetime import datetime, timezone

import psycopg
import pytest
import requests
import yaml
from psycopg import errors
from superset_helpers import (
    OUTPUT,
    SUPERSET_DIR,
    accept_terms,
    browser_login,
    chart_data,
    dataset_ids,
    events,
    jwt,
    last_event_id,
    login,
    pass_second_factor,
    render_dashboard,
    sql_as,
    sqllab,
    superset_module,
)

from safestats import audit
from safestats.policies import service
from safestats.superset import assets, server, sync

TERMS_ACCEPTED = "Accept the conditions of use"


@pytest.fixture(scope="module")
def analysts(cfg, superset) -> tuple[str, str]:
    """Two analysts of different organisations, both seeing some street crimes."""
    return "camden_analyst", "hackney_analyst"


# ---------------------------------------------------------------------------------------------------------
# Install, keys, start/stop
# ---------------------------------------------------------------------------------------------------------

def test_secret_key_is_generated_per_install_and_private(cfg, superset):
    key_file = server.paths(cfg).secret_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) >= 32
    assert server.status(cfg)["healthy"]


def test_a_known_default_secret_key_is_refused(tmp_path, monkeypatch):
    runtime = superset_module("runtime")
    monkeypatch.setenv("SAFESTATS_HOME", str(tmp_path))
    (tmp_path / "superset").mkdir()
    for default in ("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "thisISaSECRET_1234", "short"):
        (tmp_path / "superset" / "secret_key").write_text(default)
        with pytest.raises(RuntimeError, match="refusing to start"):
            runtime.secret_key()


# ---------------------------------------------------------------------------------------------------------
# Conditions of use
# ---------------------------------------------------------------------------------------------------------

def test_conditions_come_first_at_every_login_for_pages_and_api(base, passwords, superuser):
    before = last_event_id(superuser)
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    page = s.get(f"{base}/superset/welcome/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/terms/")
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 403
    assert accept_terms(s, base).status_code == 302
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 200
    # a new login on the same browser session asks again
    s.get(f"{base}/logout/")
    token = re.search(r'id="csrf_token"\s*value="([^"]+)"', s.get(f"{base}/login/").text).group(1)
    s.post(f"{base}/login/", data={"username": "camden_analyst", "password": passwords["camden_analyst"],
                                   "csrf_token": token}, allow_redirects=False)
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 401     # the second factor first (test_org_admin)
    pass_second_factor(s, base, "camden_analyst")
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 403
    kinds = [e["event_type"] for e in events(superuser, before, username="camden_analyst")]
    assert kinds[:6] == ["login", "second_factor_passed", "conditions_accepted", "logout", "login",
                         "second_factor_passed"], kinds


def test_the_conditions_page_carries_the_clauses_and_the_users_own_agreement(cfg, base, passwords, superuser):
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    page = s.get(f"{base}/terms/").text
    agreements = service.load(cfg).agreements
    user = agreements.users["camden_analyst"]
    org = agreements.organisations[user.organisation]
    for fact in (user.name, org.name, org.dsa_reference, user.purpose, user.expires_on.isoformat(),
                 org.expires_on.isoformat()):
        assert html.escape(fact) in page, fact
    published = yaml.safe_load((cfg.project_dir / "access_policies" / "conditions_of_use.yml").read_text())
    assert f"Version {published['version']}," in page
    for phrase in ("jigsaw", "onward sharing beyond the agreement is forbidden", "report a suspected breach"):
        assert phrase in page, phrase
    before = last_event_id(superuser)
    assert accept_terms(s, base).status_code == 302
    accepted = events(superuser, before, event_type="conditions_accepted")
    assert [e["detail"]["version"] for e in accepted] == [published["version"]] and accepted[0]["detail"]["sha256"]


def test_a_new_version_of_the_conditions_is_accepted_again_even_mid_session(cfg, base, passwords, undo):
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 200
    path = server.paths(cfg).dir / "conditions.json"
    current = path.read_text()
    undo(path.write_text, current)
    older = json.loads(current)["version"]
    path.write_text(json.dumps(json.loads(current) | {"version": older + 1}))     # what a sync of a new version does
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 403
    page = s.get(f"{base}/superset/welcome/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/terms/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}/terms/").text).group(1)
    s.post(f"{base}/terms/", data={"csrf_token": token, "next": "/superset/welcome/", "version": str(older)})
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 403       # a page of the older version accepts nothing
    assert accept_terms(s, base).status_code == 302
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 200


def test_with_no_conditions_published_no_one_gets_past(cfg, base, passwords, undo):
    path = server.paths(cfg).dir / "conditions.json"
    undo(path.write_text, path.read_text())
    path.unlink()
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    assert s.get(f"{base}/terms/").status_code == 503
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 503


def test_a_form_without_its_csrf_token_accepts_nothing(base, passwords):
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    resp = s.post(f"{base}/terms/", data={"next": "/superset/welcome/"}, allow_redirects=False)
    assert resp.status_code in (302, 400) and not resp.headers.get("Location", "").startswith("/superset/welcome")
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 403


def test_bearer_tokens_work_for_the_provisioning_account_only(cfg, base, passwords):
    analyst = jwt(base, "camden_analyst", passwords["camden_analyst"])
    assert requests.get(f"{base}/api/v1/dashboard/", headers=analyst).status_code == 403
    admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
    assert requests.get(f"{base}/api/v1/dashboard/", headers=admin).status_code == 200


# ---------------------------------------------------------------------------------------------------------
# Identity pass-through, read-only SQL Lab, per-user cache
# ---------------------------------------------------------------------------------------------------------

def test_sql_lab_runs_as_the_users_own_login(cfg, base, passwords, analysts):
    for username in analysts:
        s = login(base, username, passwords[username])
        resp = sqllab(s, base, "select count(*) as n from marts.fct_street_crimes", f"idn{username[:6]}")
        assert resp.status_code == 200, resp.text
        expected = sql_as(cfg, username, "select count(*) from marts.fct_street_crimes")[0][0]
        assert resp.json()["data"] == [{"n": expected}] and expected > 0


def test_sql_lab_keeps_a_querys_own_limit(base, passwords):
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    resp = sqllab(s, base, "select borough_code from marts.dim_boroughs order by 1 limit 3", "lim0000001")
    assert resp.status_code == 200 and len(resp.json()["data"]) == 3, resp.text[:300]
    resp = sqllab(s, base, "select borough_code from marts.dim_boroughs", "lim0000002")
    assert len(resp.json()["data"]) == 33        # the editor's limit (1,000) where the query sets none


def test_a_refusal_says_what_the_agreement_does_not_give_and_whom_to_ask(cfg, base, passwords):
    s = login(base, "vru_analyst", passwords["vru_analyst"])
    resp = sqllab(s, base, "select count(*) from marts.fct_street_crimes", "ref0000001")
    message = resp.json()["errors"][0]["message"]
    admins = [u.name for u in service.load(cfg).agreements.users.values()
              if u.organisation == "violence-reduction-unit" and u.role == "org_admin"]
    assert "does not give you marts.fct_street_crimes" in message and "/home/" in message, message
    assert admins and all(name in message for name in admins), message
    assert "all_database_access" not in message and "permission" not in message, message


def test_anyone_but_a_named_user_connects_as_a_role_that_sees_nothing(cfg, base):
    admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
    s = requests.Session()
    s.headers.update(admin)
    s.headers.update({"X-CSRFToken": s.get(f"{base}/api/v1/security/csrf_token/").json()["result"],
                      "Referer": base})
    resp = sqllab(s, base, "select count(*) from marts.fct_street_crimes", "nobody0001")
    assert resp.status_code != 200 and "permission denied" in resp.text, resp.text
    identity = superset_module("identity")
    assert identity.login_for(None)[0] == identity.NOBODY
    assert identity.login_for("admin")[0] == identity.NOBODY
    assert identity.login_for("hackney_former_analyst")[0] == identity.NOBODY   # expired
    assert identity.login_for("camden_analyst")[0] == "camden_analyst"


def test_sql_lab_is_read_only_in_the_database_itself(cfg, base, passwords):
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    assert sqllab(s, base, "delete from marts.fct_street_crimes", "ro00000001").status_code != 200
    # Superset's own DML check is not the boundary: the very login it hands out cannot write either.
    identity = superset_module("identity")
    role, password = identity.login_for("camden_analyst")
    from safestats import database

    ep = database.endpoint(cfg).as_user(role, password)
    with psycopg.connect(ep.conninfo(), autocommit=True) as conn:
        for statement in ("delete from marts.fct_street_crimes",
                          "update marts.dim_boroughs set borough_name = 'x'",
                          "insert into marts.dim_boroughs (borough_code) values ('x')",
                          "create table marts.mine (x int)",
                          "create table public.mine (x int)"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_two_organisations_never_share_a_cached_result(cfg, base, passwords, analysts):
    first, other = analysts
    # a row limit no other test asks for: a cache key of this test's own, whatever ran before it
    s1 = login(base, first, passwords[first])
    ds = dataset_ids(s1, base)["marts.fct_street_crimes"]
    warm = chart_data(s1, base, ds, columns=["borough_code"], row_limit=997).json()["result"][0]
    again = chart_data(s1, base, ds, columns=["borough_code"], row_limit=997).json()["result"][0]
    assert again["is_cached"], "the data cache is not on: this test would prove nothing"
    s2 = login(base, other, passwords[other])
    theirs = chart_data(s2, base, ds, columns=["borough_code"], row_limit=997).json()["result"][0]
    assert not theirs["is_cached"] and theirs["cache_key"] != warm["cache_key"]
    for username, result in ((first, again), (other, theirs)):
        expected = sql_as(cfg, username, "select borough_code, count(*) from marts.fct_street_crimes group by 1")
        assert sorted((r["borough_code"], r["count"]) for r in result["data"]) == sorted(expected)
    assert warm["data"] != theirs["data"]


# ---------------------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------------------

def test_queries_chart_data_and_exports_are_audited(cfg, base, passwords, superuser):
    before = last_event_id(superuser)
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    query = "select borough_code, count(*) from marts.fct_street_crimes group by 1"
    assert sqllab(s, base, query, "aud0000001").status_code == 200
    export = s.get(f"{base}/api/v1/sqllab/export/aud0000001/")
    assert export.status_code == 200
    ds = dataset_ids(s, base)["marts.fct_street_crimes"]
    assert chart_data(s, base, ds, columns=["category_group"]).status_code == 200
    csv = chart_data(s, base, ds, fmt="csv", columns=["category_group"])
    assert csv.status_code == 200
    found = events(superuser, before, username="camden_analyst")
    by_type = {}
    for e in found:
        by_type.setdefault(e["event_type"], []).append(e)
    assert by_type["sqllab_query"][0]["detail"]["sql"] == query
    assert by_type["sqllab_query"][0]["detail"]["rows"] == 1
    exports = by_type["export"]
    assert [e["detail"]["format"] for e in exports] == ["csv", "csv"]
    assert exports[0]["detail"]["rows"] == 1 and exports[0]["object"] == "sqllab query aud0000001"
    categories = sql_as(cfg, "camden_analyst", "select count(distinct category_group) from marts.fct_street_crimes")
    assert exports[1]["detail"]["rows"] == categories[0][0]
    assert by_type["chart_data"][0]["detail"]["rows"] == categories[0][0]
    assert all(e["organisation"] == "camden" for e in found)
    assert audit.verify(superuser).ok


def test_an_export_whose_audit_record_cannot_be_written_is_refused(base, passwords, superuser, undo):
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    ds = dataset_ids(s, base)["marts.fct_street_crimes"]

    def export():
        return chart_data(s, base, ds, fmt="csv", columns=["borough_name"])

    assert export().status_code == 200      # the workers now hold open audit connections
    # the writer may no longer insert an event's type: on the connections the workers hold, as on new ones
    grant = "grant insert (event_type) on audit.events to safestats_audit_writer"
    undo(superuser.execute, grant)
    superuser.execute("revoke insert (event_type) on audit.events from safestats_audit_writer")
    resp = export()
    assert resp.status_code == 503 and "Camden" not in resp.text, resp.text[:200]
    superuser.execute(grant)
    # the writer's connections end (as at a server restart) and it may not log in again
    undo(superuser.execute, "alter role safestats_audit_writer login")
    superuser.execute("alter role safestats_audit_writer nologin")
    superuser.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'safestats_audit_writer'")
    resp = export()
    assert resp.status_code == 503 and "Camden" not in resp.text, resp.text[:200]
    superuser.execute("alter role safestats_audit_writer login")
    assert export().status_code == 200


def test_failed_and_expired_logins_are_refused_and_audited(base, passwords, superuser):
    before = last_event_id(superuser)
    s = login(base, "camden_analyst", "not-the-password", refused=True)
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 401
    expired = login(base, "hackney_former_analyst", passwords["hackney_former_analyst"], refused=True)
    assert expired.get(f"{base}/api/v1/dashboard/").status_code == 401
    reasons = {e["username"]: e["detail"]["reason"] for e in events(superuser, before, event_type="login_failed")}
    assert reasons == {"camden_analyst": "wrong password", "hackney_former_analyst": "account deactivated"}


def test_an_org_admin_reads_their_own_organisations_audit_report_only(cfg, base, passwords):
    s = login(base, "camden_admin", passwords["camden_admin"])
    assert "audit.organisation_events" in dataset_ids(s, base)
    resp = sqllab(s, base, "select distinct organisation from audit.organisation_events", "adm0000001")
    assert resp.status_code == 200 and resp.json()["data"] == [{"organisation": "camden"}], resp.text
    analyst = login(base, "camden_analyst", passwords["camden_analyst"])
    assert "audit.organisation_events" not in dataset_ids(analyst, base)
    with pytest.raises(errors.InsufficientPrivilege):
        sql_as(cfg, "camden_analyst", "select * from audit.organisation_events")


# ---------------------------------------------------------------------------------------------------------
# Provisioning: users, roles and assets from the repo
# ---------------------------------------------------------------------------------------------------------

def test_sync_makes_every_named_user_with_the_right_roles_and_state(cfg, base, superset):
    admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
    users = requests.get(f"{base}/api/v1/security/users/?q=(page_size:100)", headers=admin)
    assert users.status_code == 200, users.text
    found = {u["username"]: u for u in users.json()["result"]}
    agreements = service.load(cfg).agreements
    from datetime import date

    for name, user in agreements.users.items():
        org = agreements.organisations[user.organisation]
        assert found[name]["active"] == (org.has_access(date.today()) and user.expires_on >= date.today()), name
        roles = {r["name"] for r in found[name]["roles"]}
        assert f"SafeStats org {user.organisation}" in roles
        assert ("SafeStats audit report" in roles) == (user.role == "org_admin")


def test_every_marts_relation_has_a_dataset_documented_from_dbt(cfg, base, superuser):
    admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
    ids = dataset_ids(requests.Session(), base, headers=admin)
    relations = {f"marts.{r[0]}" for r in superuser.execute(
        "select relname from pg_class where relnamespace = 'marts'::regnamespace and relkind in ('r', 'p', 'v', 'm')")}
    assert relations and relations <= set(ids)
    docs = assets.dbt_docs(cfg.project_dir / "models")
    detail = requests.get(f"{base}/api/v1/dataset/{ids['marts.fct_street_crimes']}", headers=admin).json()["result"]
    assert detail["description"] == docs["fct_street_crimes"]["description"]
    described = {c["column_name"]: c["description"] for c in detail["columns"]}
    assert described == {k: v for k, v in docs["fct_street_crimes"]["columns"].items() if k in described}
    assert described["borough_code"]


DEMO_ANALYSTS = ("camden_analyst", "hackney_analyst", "met_analyst", "vru_analyst", "whittington_analyst")


def shown_to(superset, username: str, cfg) -> set[str]:
    """The dashboards sync made for the user's organisation."""
    org = service.load(cfg).agreements.users[username].organisation
    return {slug for slug, roles in superset["sync"].dashboard_roles.items() if f"SafeStats org {org}" in roles}


def test_dashboards_are_made_from_the_repo_yaml_for_each_agreement(cfg, base, superset):
    admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
    listed = requests.get(f"{base}/api/v1/dashboard/?q=(page_size:100)", headers=admin).json()["result"]
    assert {d["slug"] for d in listed} >= set(superset["sync"].dashboard_roles)
    specs = [yaml.safe_load(p.read_text()) for p in sorted((SUPERSET_DIR / "assets" / "dashboards").glob("*.yml"))]
    assert all(any(d["slug"].startswith(s["slug"] + "-") for d in listed) for s in specs
               if s["title"] not in superset["sync"].skipped_dashboards)
    assert shown_to(superset, "camden_analyst", cfg) >= {"community-safety-overview-camden", "borough-hotspots-camden"}


@pytest.mark.parametrize("username", DEMO_ANALYSTS)
def test_an_analyst_is_offered_only_the_dashboards_and_datasets_their_agreement_reads(cfg, base, passwords, superset,
                                                                                     username):
    s = login(base, username, passwords[username])
    listed = s.get(f"{base}/api/v1/dashboard/?q=(page_size:100)").json()["result"]
    made = set(superset["sync"].dashboard_roles)    # the platform's (an analyst's own may be listed too)
    assert {d["slug"] for d in listed} & made == shown_to(superset, username, cfg)
    for slug in set(superset["sync"].dashboard_roles) - shown_to(superset, username, cfg):
        assert s.get(f"{base}/api/v1/dashboard/{slug}").status_code in (403, 404), slug
    datasets = dataset_ids(s, base)
    readable = {r[0] for r in sql_as(cfg, username,
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'marts' and c.relkind in ('r', 'p', 'v', 'm')"
        " and has_any_column_privilege(c.oid, 'SELECT')")}
    declared = {f"marts.{d.name}" for d in assets.declared_datasets(SUPERSET_DIR / "assets")}
    # the semantic layer's virtual datasets, but for those the warehouse materialises under their name
    materialised = {f"marts.{name}" for name in sync.materialised_metrics(SUPERSET_DIR.parent)}
    tables = {d for d in datasets if d not in declared
              and (not d.split(".")[1].startswith("metrics_") or d in materialised)}
    assert tables == readable, (sorted(tables - readable), sorted(readable - tables))


def test_the_data_dictionary_lists_the_columns_the_agreement_reads_and_what_they_mean(cfg, base, passwords):
    """/dictionary/ (beside SQL Lab) lists the tables and columns the organisation's database role reads, with
    their dbt descriptions: Hackney's agreement withholds crime_pseudo_id, the VRU reads no record-level table;
    it is behind the conditions of use like every page."""
    pages = {u: login(base, u, passwords[u]).get(f"{base}/dictionary/").text
             for u in ("camden_analyst", "hackney_analyst", "vru_analyst")}
    for page in pages.values():
        assert "Data dictionary" in page
    assert 'id="marts.fct_street_crimes"' in pages["camden_analyst"] and "crime_pseudo_id" in pages["camden_analyst"]
    assert "finest geography released" in pages["camden_analyst"]           # the dbt description of lsoa_code
    def section(page: str, relation: str) -> str:
        return page.split(f'<section id="{relation}">', 1)[1].split("</section>", 1)[0]

    assert "<code>crime_pseudo_id</code>" in section(pages["camden_analyst"], "marts.fct_street_crimes")
    assert "<code>crime_pseudo_id</code>" not in section(pages["hackney_analyst"], "marts.fct_street_crimes")
    assert 'id="marts.fct_street_crimes"' not in pages["vru_analyst"]
    assert 'id="marts.agg_street_crimes_monthly"' in pages["vru_analyst"]
    unaccepted = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    resp = unaccepted.get(f"{base}/dictionary/", allow_redirects=False)
    assert resp.status_code in (302, 303) and "/terms/" in resp.headers["Location"]


def chart_rows(s: requests.Session, base: str, slug: str, title: str) -> list[dict]:
    """The rows a dashboard chart's own form data asks for (its metrics by its x axis and groupby, under its SQL
    filters), through the API as the session's user."""
    charts = s.get(f"{base}/api/v1/dashboard/{slug}/charts").json()["result"]
    form = next(c["form_data"] for c in charts if c["slice_name"] == title)
    resp = s.post(f"{base}/api/v1/chart/data", json={
        "datasource": form["datasource"] if isinstance(form["datasource"], dict)
        else dict(zip(("id", "type"), (int(form["datasource"].split("__")[0]), "table"))),
        "queries": [{"metrics": form["metrics"], "columns": [form["x_axis"], *form.get("groupby", [])],
                     "filters": [], "row_limit": 10000, "extras": {"where": " and ".join(
                         f"({f['sqlExpression']})" for f in form.get("adhoc_filters", [])
                         if f.get("expressionType") == "SQL" and f.get("clause") == "WHERE")}}],
        "result_format": "json", "result_type": "full"})
    assert resp.status_code == 200, resp.text
    return resp.json()["result"][0]["data"]


def test_a_boroughs_rate_is_its_own_crimes_over_its_own_residents(cfg, base, passwords, superuser):
    """The rate chart divides each borough's crimes by that borough's population, whoever looks: Camden's rate,
    not Camden's crimes over London's residents."""
    s = login(base, "camden_analyst", passwords["camden_analyst"])
    rows = chart_rows(s, base, "community-safety-overview-camden", "Street crimes per 1,000 residents, by borough")
    counts = dict(sql_as(cfg, "camden_analyst", "select crime_month, count(*) from marts.fct_street_crimes group by 1"))
    residents = dict(superuser.execute(
        "select months.month, population.population"
        " from (select distinct month_start as month from marts.dim_date) as months"
        " join marts.dim_borough_population as population"
        "   on months.month between population.applies_from_month and population.applies_to_month"
        " where population.borough_code = 'E09000007'").fetchall())
    assert rows and {r["borough__borough_name"] for r in rows} == {"Camden"}
    for row in rows:
        value = row["metric_time__month"]
        month = (datetime.fromtimestamp(value / 1000, tz=timezone.utc).date() if isinstance(value, (int, float))
                 else datetime.fromisoformat(value).date())
        assert row["street_crime_rate_per_1000"] == pytest.approx(counts[month] * 1000 / residents[month]), month


LSOA_MONTH = ("select m.lsoa_code, g.latitude, g.longitude, sum(m.crime_count)"
              " from marts.fct_street_crimes_lsoa_monthly as m"
              " join marts.dim_geography as g on g.geography_code = m.lsoa_code"
              " where m.crime_month = (select max(crime_month) from marts.fct_street_crimes_lsoa_monthly)"
              " group by 1, 2, 3")


@pytest.mark.parametrize("username", ["camden_analyst", "hackney_analyst", "vru_analyst"])
def test_the_hotspot_map_places_the_viewers_own_lsoas_and_no_one_elses(cfg, base, passwords, superset, username):
    """The LSOA map's dataset, asked through the API as each analyst for the latest month: a borough gets exactly
    its own LSOAs, at their centroids, with the counts SQL gives it; the aggregate-only VRU gets no map and
    cannot read the dataset at all (it reads only released cells)."""
    s = login(base, username, passwords[username])
    org = username.removesuffix("_analyst")
    ids = dataset_ids(s, base)
    if username == "vru_analyst":
        assert "marts.street_crimes_lsoa_map" not in ids
        for slug in shown_to(superset, username, cfg):
            titles = {c["slice_name"] for c in s.get(f"{base}/api/v1/dashboard/{slug}/charts").json()["result"]}
            assert "Street crimes by LSOA (map)" not in titles, slug
        admin = jwt(base, server.PROVISIONING_USER, server.admin_password(cfg))
        every = dataset_ids(requests.Session(), base, headers=admin)
        refused = chart_data(s, base, every["marts.street_crimes_lsoa_map"], columns=["lsoa_code"])
        assert refused.status_code in (403, 404), refused.text
        return
    expected = {r[0]: (float(r[1]), float(r[2]), int(r[3])) for r in sql_as(cfg, username, LSOA_MONTH)}
    borough = {"camden": "E09000007", "hackney": "E09000012"}[org]
    assert expected and all(code.startswith("E01") for code in expected)
    month = sql_as(cfg, username, "select max(crime_month) from marts.fct_street_crimes_lsoa_monthly")[0][0]
    resp = s.post(f"{base}/api/v1/chart/data", json={
        "datasource": {"id": ids["marts.street_crimes_lsoa_map"], "type": "table"},
        "queries": [{"metrics": ["street_crime_count"], "columns": ["lsoa_code", "borough_code", "latitude",
                                                                   "longitude"],
                     "filters": [], "row_limit": 100000, "extras": {"where": f"crime_month = '{month}'"}}],
        "result_format": "json", "result_type": "full"})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["result"][0]["data"]
    assert {r["borough_code"] for r in rows} == {borough}
    got = {r["lsoa_code"]: (r["latitude"], r["longitude"], r["street_crime_count"]) for r in rows}
    assert got.keys() == expected.keys()
    for code, (lat, lon, count) in expected.items():
        assert got[code][2] == count and got[code][0] == pytest.approx(lat) and got[code][1] == pytest.approx(lon)


def _grouping(form: dict) -> list[str]:
    """The columns a chart's form groups by (time axis, series, pivot rows and columns, map keys and points)."""
    cols = []
    for key in ("x_axis", "groupby", "groupbyRows", "groupbyColumns", "entity"):
        value = form.get(key)
        cols += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    spatial = form.get("spatial") or {}
    cols += [spatial[k] for k in ("lonCol", "latCol") if spatial.get(k)]
    return list(dict.fromkeys(cols))


def _metrics(form: dict) -> list:
    found = []
    for key in ("metric", "metrics"):
        value = form.get(key)
        found += [m for m in (value if isinstance(value, list) else [value]) if m]
    radius = form.get("point_radius_fixed") or {}
    if radius.get("type") == "metric":
        found.append(radius["value"])
    return found


def _metric_sql(metric, saved: dict[str, str]) -> str:
    if isinstance(metric, str):
        return saved[metric]
    if metric.get("expressionType") == "SQL":
        return metric["sqlExpression"]
    return f"{metric['aggregate']}({metric['column']['column_name']})"


def _plain(value, temporal: bool):
    """A cell as both sides can agree on: dates as ISO dates, numbers to 6 places."""
    if temporal and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc).date().isoformat()
    if temporal and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    if isinstance(value, datetime):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return round(float(value), 6)


def dashboard_numbers_against_sql(cfg, s: requests.Session, base: str, username: str, slug: str) -> list[str]:
    """Every chart of one dashboard asked through Superset's chart-data API as the user, and the same question
    written independently in SQL (the form's columns, the dataset's metric expressions, its SQL filters) and run
    with the user's own database login: the charts whose answers differ, and how."""
    wrong = []
    for chart in s.get(f"{base}/api/v1/dashboard/{slug}/charts").json()["result"]:
        form = chart["form_data"]
        dataset_id = int(str(form["datasource"]).split("__")[0])
        dataset = s.get(f"{base}/api/v1/dataset/{dataset_id}").json()["result"]
        relation = (f"({dataset['sql']}) as virtual_table" if dataset.get("sql")
                    else f"{dataset['schema']}.{dataset['table_name']}")
        where = " and ".join(f"({f['sqlExpression']})" for f in form.get("adhoc_filters", [])
                             if f.get("expressionType") == "SQL" and f.get("clause") == "WHERE") or "true"
        if form.get("query_mode") == "raw":
            columns, metrics = form["all_columns"], []
            query = f"select {', '.join(columns)} from {relation} where {where}"
        else:
            columns, metrics = _grouping(form), _metrics(form)
            saved = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}
            selected = [*columns, *(_metric_sql(m, saved) for m in metrics)]
            query = (f"select {', '.join(selected)} from {relation} where {where}"
                     + (f" group by {', '.join(str(i + 1) for i in range(len(columns)))}" if columns else ""))
        resp = s.post(f"{base}/api/v1/chart/data", json={
            "datasource": {"id": dataset_id, "type": "table"},
            "queries": [{"columns": columns, "metrics": metrics, "filters": [], "orderby": [],
                         "extras": {"where": "" if where == "true" else where}, "row_limit": 100000}],
            "result_format": "json", "result_type": "full"})
        if resp.status_code != 200:
            wrong.append(f"{slug} / {chart['slice_name']}: Superset answered {resp.status_code} {resp.text[:200]}")
            continue
        result = resp.json()["result"][0]
        temporal = [t == 2 for t in result["coltypes"]]
        got = sorted((tuple(_plain(row[c], t) for c, t in zip(result["colnames"], temporal))
                      for row in result["data"]), key=repr)
        expected = sorted((tuple(_plain(v, t) for v, t in zip(row, temporal))
                           for row in sql_as(cfg, username, query)), key=repr)
        if got != expected:
            wrong.append(f"{slug} / {chart['slice_name']}: {len(got)} rows from Superset, {len(expected)} from SQL;"
                         f" first differences {[r for r in got if r not in expected][:3]}"
                         f" / {[r for r in expected if r not in got][:3]}")
    return wrong


@pytest.mark.parametrize("username", DEMO_ANALYSTS)
def test_every_number_on_every_dashboard_is_what_sql_gives_the_viewer(cfg, base, passwords, superset, username):
    """For each demo organisation, every chart of every dashboard it is shown answers exactly what the same
    question, written as SQL and run with the analyst's own database login, answers: nothing cached from
    someone else, no filtered sum where a released figure is meant, no chart that cannot answer."""
    s = login(base, username, passwords[username])
    shown = shown_to(superset, username, cfg)
    assert shown
    wrong = [w for slug in sorted(shown) for w in dashboard_numbers_against_sql(cfg, s, base, username, slug)]
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------------------------------
# In the browser
# ---------------------------------------------------------------------------------------------------------

def big_number(page, title: str) -> int:
    holder = page.locator(".dashboard-component-chart-holder", has_text=title)
    text = holder.locator(".header-line").inner_text(timeout=30_000)
    return int(text.replace(",", "").strip())


def test_an_analyst_accepts_the_conditions_and_sees_only_their_data(cfg, browser, base, passwords, superuser):
    before = last_event_id(superuser)
    context, page = browser_login(browser, base, "camden_analyst", passwords["camden_analyst"])
    page.wait_for_url("**/terms/**", timeout=30_000)
    page.screenshot(path=str(OUTPUT / "01-conditions.png"))
    page.click("#accept-conditions")
    page.wait_for_url("**/home/**", timeout=30_000)
    expected = sql_as(cfg, "camden_analyst", "select count(*) from marts.fct_street_crimes")[0][0]
    render_dashboard(page, base, "community-safety-overview-camden", "03-camden-overview.png")
    assert big_number(page, "Street crimes recorded") == expected
    latest = sql_as(cfg, "camden_analyst",
                    "select to_char(max(crime_month), 'FMMonth YYYY') from marts.fct_street_crimes_monthly")[0][0]
    assert latest in page.locator(".dashboard-component-chart-holder", has_text="Data up to").inner_text()
    render_dashboard(page, base, "borough-hotspots-camden", "04-camden-hotspots.png")
    table = page.locator(".dashboard-component-chart-holder", has_text="by borough and category group")
    text = table.inner_text()
    assert "Camden" in text and "Hackney" not in text and "Westminster" not in text
    # the hotspot map draws (deck.gl's canvas); the ward table shows the latest month, as the Month filter says
    assert page.locator(".dashboard-component-chart-holder", has_text="Street crimes by LSOA (map)").locator(
        "canvas").count() > 0
    ward, count = sql_as(cfg, "camden_analyst",
                         "select g.ward_name, sum(m.crime_count) from marts.fct_street_crimes_lsoa_monthly as m"
                         " join marts.dim_geography as g on g.geography_code = m.lsoa_code"
                         " where m.crime_month = (select max(crime_month) from marts.fct_street_crimes_lsoa_monthly)"
                         " group by 1 order by 2 desc, 1 limit 1")[0]
    wards = page.locator(".dashboard-component-chart-holder", has_text="Street crimes by ward").inner_text()
    assert ward in wards and f"{count:,}" in wards, (ward, count, wards[:300])
    # SQL Lab and a CSV export, in this browser session
    page.goto(f"{base}/sqllab/")
    page.wait_for_selector(".ace_editor, [data-test=sql-editor-tabs], #brace-editor", timeout=60_000)
    page.screenshot(path=str(OUTPUT / "05-sqllab.png"))
    token = page.request.get(f"{base}/api/v1/security/csrf_token/").json()["result"]
    headers = {"X-CSRFToken": token, "Referer": base}
    db_id = page.request.get(f"{base}/api/v1/database/").json()["result"][0]["id"]
    run = page.request.post(f"{base}/api/v1/sqllab/execute/", headers=headers, data={
        "database_id": db_id, "sql": "select category_group, count(*) from marts.fct_street_crimes group by 1",
        "schema": "marts", "runAsync": False, "client_id": "brw0000001", "queryLimit": 1000})
    assert run.ok, run.text()
    csv = page.request.get(f"{base}/api/v1/sqllab/export/brw0000001/")
    assert csv.ok and "category_group" in csv.text()
    context.close()
    kinds = {e["event_type"] for e in events(superuser, before, username="camden_analyst")}
    assert {"login", "conditions_accepted", "chart_data", "sqllab_query", "export"} <= kinds, kinds


def test_another_organisation_sees_its_own_numbers_on_the_same_chart(cfg, browser, base, passwords):
    numbers = {}
    for username in ("camden_analyst", "hackney_analyst"):
        context, page = browser_login(browser, base, username, passwords[username])
        page.wait_for_url("**/terms/**", timeout=30_000)
        page.click("#accept-conditions")
        page.wait_for_url("**/home/**", timeout=30_000)
        slug = "community-safety-overview-" + username.removesuffix("_analyst")
        render_dashboard(page, base, slug, f"06-{username}-overview.png")
        numbers[username] = big_number(page, "Street crimes recorded")
        context.close()
        assert numbers[username] == sql_as(cfg, username, "select count(*) from marts.fct_street_crimes")[0][0]
    assert numbers["camden_analyst"] != numbers["hackney_analyst"]


@pytest.mark.parametrize("username", DEMO_ANALYSTS)
def test_every_dashboard_an_analyst_is_offered_renders_without_an_error(cfg, browser, base, passwords, superset,
                                                                        username):
    context, page = browser_login(browser, base, username, passwords[username])
    page.wait_for_url("**/terms/**", timeout=30_000)
    page.click("#accept-conditions")
    page.wait_for_url("**/home/**", timeout=30_000)
    shown = sorted(shown_to(superset, username, cfg))
    page.wait_for_selector("#dashboards", timeout=30_000)       # the organisation's home page
    page.screenshot(path=str(OUTPUT / f"01-{username}-home.png"), full_page=True)
    links = page.locator("#dashboards a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert sorted(link.split("/")[3] for link in links) == shown
    assert service.load(cfg).agreements.users[username].name in page.inner_text("main")
    for slug in shown:
        render_dashboard(page, base, slug, f"02-{username}-{slug}.png")
        holders = page.locator(".dashboard-component-chart-holder")
        errors = page.locator(".dashboard-component-chart-holder [role=alert],"
                              " .dashboard-component-chart-holder .alert").all_inner_texts()
        assert holders.count() > 0 and not errors, (slug, errors)
        latest = holders.filter(has_text="Data up to").first.inner_text()
        assert re.search(r"\b[A-Z][a-z]+ 20\d\d\b|no data yet", latest), (slug, latest)
    if username == "vru_analyst" and "community-safety-overview-violence-reduction-unit" in shown:
        released = sql_as(cfg, username,
                          "select coalesce(sum(street_crime_count), 0) from marts.agg_street_crimes_monthly"
                          " where geography_level = 'borough' and category_level = 'category'")[0][0]
        render_dashboard(page, base, "community-safety-overview-violence-reduction-unit", "07-vru-overview.png")
        holder = page.locator(".dashboard-component-chart-holder", has_text="Street crimes recorded (released")
        shown = holder.inner_text(timeout=30_000)
        assert (f"{released:,}" in shown) if released else ("No data" in shown), shown
    context.close()


def test_an_expired_user_cannot_log_in(browser, base, passwords):
    context, page = browser_login(browser, base, "hackney_former_analyst", passwords["hackney_former_analyst"],
                                  refused=True)
    page.wait_for_load_state("networkidle")
    time.sleep(1)
    page.screenshot(path=str(OUTPUT / "07-expired-user.png"))
    assert "/terms/" not in page.url and "/superset/welcome" not in page.url and "/home/" not in page.url
    assert page.request.get(f"{base}/api/v1/me/").status == 401
    context.close()


def test_superset_module_leaves_a_valid_audit_chain(superuser):
    result = audit.verify(superuser)
    assert result.ok, result
    json.dumps(result.__dict__)
