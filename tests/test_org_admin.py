"""Organisation administrators run their own users: authorise (an invitation link), onboard (a password and a
second factor), renew, suspend, reinstate and remove, each taking effect in PostgreSQL at once and in Superset
within a minute; nothing outside their own organisation, nothing for themselves, nothing past the agreement;
their organisation's audit report; and the second factor at every login. On the session's Superset (conftest),
against the governance tables in PostgreSQL."""
from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import replace
from datetime import date, timedelta

import psycopg
import pyotp
import pytest
import requests
from psycopg import errors
from superset_helpers import (
    OUTPUT,
    accept_terms,
    browser_login,
    events,
    jwt,
    last_event_id,
    login,
    one_time_code,
    pass_second_factor,
    sql_as,
    sqllab,
    submit_one_time_code,
    submit_password,
)

from safestats import credentials
from safestats.policies import governance, service
from safestats.policies.agreements import User
from safestats.policies.plan import valid_until

ADMIN = "camden_admin"
USERS = "/organisation/users/"
NEW_PASSWORD = "correct horse battery staple"
CAMDEN = "E09000007"


def _token(s: requests.Session, base: str, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}{path}").text).group(1)


def authorise(s: requests.Session, base: str, username: str, *, expires_on: date | None = None,
              role: str = "analyst") -> requests.Response:
    return s.post(f"{base}{USERS}", data={
        "csrf_token": _token(s, base, USERS), "username": username, "name": "Sam Example",
        "email": f"{username}@camden.gov.uk", "role": role,
        "purpose": "Community Safety Partnership strategic assessment",
        "expires_on": (expires_on or date.today() + timedelta(days=200)).isoformat()}, allow_redirects=False)


def link_of(resp: requests.Response) -> str:
    assert resp.status_code == 200, resp.text[:500]
    return re.search(r'id="invitation-link">([^<]+)<', resp.text).group(1)


def accept_invitation(link: str, password: str = NEW_PASSWORD) -> requests.Response:
    """What the invitee does: open the link, add the key to an authenticator, choose a password, give a code."""
    s = requests.Session()
    page = s.get(link)
    secret = re.sub(r"\s", "", re.search(r'id="totp-secret">([^<]+)<', page.text).group(1))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return s.post(link, data={"csrf_token": token, "password": password, "confirm": password,
                              "code": pyotp.TOTP(secret).now()}, allow_redirects=False)


def act(s: requests.Session, base: str, username: str, action: str, **fields) -> requests.Response:
    return s.post(f"{base}{USERS}{username}/{action}", data={"csrf_token": _token(s, base, USERS), **fields},
                  allow_redirects=False)


def onboarded(base: str, admin: requests.Session, username: str) -> requests.Session:
    """A new Camden analyst, authorised, onboarded and logged in (conditions accepted)."""
    resp = accept_invitation(link_of(authorise(admin, base, username)))
    assert resp.status_code == 200 and "is ready" in resp.text, resp.text[:500]
    return login(base, username, NEW_PASSWORD)


def latest(superuser, username: str) -> tuple:
    return superuser.execute("select status, expires_on, purpose, authorised_by from governance.users"
                             " where username = %s", (username,)).fetchone()


def login_role(superuser, username: str) -> tuple:
    return superuser.execute(
        "select r.rolcanlogin, r.rolvaliduntil, array(select g.rolname from pg_auth_members m"
        " join pg_roles g on g.oid = m.roleid where m.member = r.oid) from pg_roles r where r.rolname = %s",
        (username,)).fetchone()


# ---------------------------------------------------------------------------------------------------------
# The journey, in a real browser
# ---------------------------------------------------------------------------------------------------------

def test_an_administrator_invites_a_user_who_enrols_a_second_factor_and_sees_their_organisation(
        cfg, browser, base, passwords, superuser):
    context, page = browser_login(browser, base, ADMIN, passwords[ADMIN])
    page.wait_for_url("**/terms/**", timeout=30_000)
    page.click("#accept-conditions")
    page.wait_for_url("**/home/**", timeout=30_000)
    page.goto(f"{base}{USERS}")
    assert page.locator("tr[data-username=camden_analyst]").count() == 1
    assert page.locator("tr[data-username=hackney_analyst]").count() == 0
    page.fill("#username", "camden_browser_new")
    page.fill("#name", "Ada Browser")
    page.fill("#email", "ada.browser@camden.gov.uk")
    page.fill("#purpose", "Violence reduction problem profiles")
    page.fill("#expires_on", (date.today() + timedelta(days=120)).isoformat())
    page.screenshot(path=str(OUTPUT / "org-admin-01-users.png"), full_page=True)
    page.click("#authorise button[type=submit]")
    page.wait_for_selector("#invitation-link")
    link = page.inner_text("#invitation-link").strip()
    page.screenshot(path=str(OUTPUT / "org-admin-02-link.png"))
    page.goto(f"{base}/organisation/audit/")
    assert page.locator("#activity td", has_text=ADMIN).count() >= 1
    page.screenshot(path=str(OUTPUT / "org-admin-05-audit-report.png"), full_page=True)
    context.close()

    invitee = browser.new_context(viewport={"width": 1200, "height": 1000})
    tab = invitee.new_page()
    tab.goto(link)
    tab.screenshot(path=str(OUTPUT / "org-admin-03-invitation.png"), full_page=True)
    secret = re.sub(r"\s", "", tab.inner_text("#totp-secret"))
    tab.fill("#password", NEW_PASSWORD)
    tab.fill("#confirm", NEW_PASSWORD)
    tab.fill("#code", pyotp.TOTP(secret).now())
    tab.click("button[type=submit]")
    tab.wait_for_selector("text=is ready")
    invitee.close()

    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    submit_password(page, base, "camden_browser_new", NEW_PASSWORD)
    page.wait_for_url("**/second-factor/**", timeout=30_000)
    page.screenshot(path=str(OUTPUT / "org-admin-06-second-factor.png"))
    submit_one_time_code(page, "camden_browser_new")
    page.wait_for_url("**/terms/**", timeout=30_000)
    page.click("#accept-conditions")
    page.wait_for_url("**/home/**", timeout=30_000)
    assert "London Borough of Camden" in page.inner_text("main")
    page.screenshot(path=str(OUTPUT / "org-admin-04-new-user-home.png"))
    context.close()
    s = login(base, "camden_browser_new", NEW_PASSWORD)
    resp = sqllab(s, base, "select distinct borough_code from marts.fct_street_crimes", "orgadm0001")
    assert resp.status_code == 200 and resp.json()["data"] == [{"borough_code": CAMDEN}], resp.text[:300]
    assert sql_as(cfg, "camden_browser_new", "select distinct borough_code from marts.fct_street_crimes") == \
        [(CAMDEN,)]
    # who authorised this person, when, and why
    history = login(base, ADMIN, passwords[ADMIN]).get(f"{base}{USERS}camden_browser_new/")
    assert history.status_code == 200
    assert "authorise" in history.text and "onboard" in history.text and ADMIN in history.text
    assert "Violence reduction problem profiles" in history.text


# ---------------------------------------------------------------------------------------------------------
# Changes take effect: PostgreSQL at once, Superset within a minute
# ---------------------------------------------------------------------------------------------------------

def test_renewal_suspension_and_removal_take_effect_in_postgresql_and_superset(cfg, base, passwords, superuser):
    admin = login(base, ADMIN, passwords[ADMIN])
    user = onboarded(base, admin, "camden_cycle")
    assert user.get(f"{base}/api/v1/dashboard/").status_code == 200

    later = date.today() + timedelta(days=300)
    assert act(admin, base, "camden_cycle", "renew", purpose="Problem profile 2027",
               expires_on=later.isoformat()).status_code == 302
    assert latest(superuser, "camden_cycle")[:3] == ("active", later, "Problem profile 2027")
    assert login_role(superuser, "camden_cycle")[1] == valid_until(later)

    assert act(admin, base, "camden_cycle", "suspend", reason="on leave").status_code == 302
    assert login_role(superuser, "camden_cycle")[0] is False      # at once in PostgreSQL
    started = time.monotonic()
    while user.get(f"{base}/api/v1/dashboard/").status_code == 200:
        assert time.monotonic() - started < 60, "the suspended user's session still works after a minute"
        time.sleep(2)
    print(f"suspension ended the open session after {time.monotonic() - started:.1f} s")
    assert login(base, "camden_cycle", NEW_PASSWORD, refused=True).get(f"{base}/api/v1/dashboard/"
                                                                         ).status_code == 401

    assert act(admin, base, "camden_cycle", "reinstate").status_code == 302
    assert login_role(superuser, "camden_cycle")[0] is True
    time.sleep(11)      # the named users are read again every 10 s by each Superset worker
    assert login(base, "camden_cycle", NEW_PASSWORD).get(f"{base}/api/v1/dashboard/").status_code == 200

    assert act(admin, base, "camden_cycle", "remove", reason="left Camden").status_code == 302
    can_login, _, groups = login_role(superuser, "camden_cycle")
    assert can_login is False and groups == []
    time.sleep(11)
    assert login(base, "camden_cycle", NEW_PASSWORD, refused=True).get(f"{base}/api/v1/dashboard/"
                                                                         ).status_code == 401
    kinds = [r[0] for r in superuser.execute(
        "select action from governance.user_changes where username = 'camden_cycle' order by change_id")]
    assert kinds == ["authorise", "onboard", "renew", "suspend", "reinstate", "remove"]
    # a later `policies apply` keeps what the administrator did
    service.apply(cfg)
    assert login_role(superuser, "camden_cycle")[0] is False and latest(superuser, "camden_cycle")[0] == "removed"


# ---------------------------------------------------------------------------------------------------------
# What an administrator cannot do
# ---------------------------------------------------------------------------------------------------------

def test_another_organisations_administrator_is_refused_on_every_page_and_action(base, passwords, superuser):
    before = superuser.execute("select max(change_id) from governance.user_changes").fetchone()[0]
    hackney = login(base, "hackney_admin", passwords["hackney_admin"])
    for action in ("renew", "suspend", "reinstate", "remove", "reset-second-factor"):
        resp = act(hackney, base, "camden_analyst", action, purpose="x",
                   expires_on=(date.today() + timedelta(days=30)).isoformat())
        assert resp.status_code == 400 and "no user camden_analyst in your organisation" in resp.text, action
    assert hackney.get(f"{base}{USERS}camden_analyst/").status_code == 404
    assert "camden_analyst" not in hackney.get(f"{base}{USERS}").text
    assert "camden" not in hackney.get(f"{base}/organisation/audit/?format=csv").text
    # an analyst is not an administrator, on any page or form
    analyst = login(base, "camden_analyst", passwords["camden_analyst"])
    for path in (USERS, f"{USERS}camden_admin/", "/organisation/audit/", "/organisation/audit/?format=csv"):
        assert analyst.get(f"{base}{path}").status_code == 403, path
    token = _token(analyst, base, "/terms/")
    assert analyst.post(f"{base}{USERS}", data={"csrf_token": token, "username": "camden_sneak"}).status_code == 403
    assert analyst.post(f"{base}{USERS}camden_admin/suspend", data={"csrf_token": token}).status_code == 403
    # administrators authorise analysts only (the platform team, administrators): no second account of one's own
    camden = login(base, ADMIN, passwords[ADMIN])
    resp = authorise(camden, base, "camden_sock_puppet", role="org_admin")
    assert resp.status_code == 400 and "the platform team authorises administrators" in resp.text
    # nor may an administrator act on themselves, or reach Superset's own user API
    admin = login(base, ADMIN, passwords[ADMIN])
    assert admin.get(f"{base}/api/v1/security/users/").status_code in (401, 403, 404)
    assert admin.post(f"{base}/api/v1/security/users/", json={
        "username": "camden_api_user", "first_name": "A", "last_name": "B", "email": "a@b.c", "active": True,
        "roles": [1], "password": "x" * 20}).status_code in (401, 403, 404)
    assert admin.get(f"{base}/users/list/").status_code in (302, 401, 403, 404)
    resp = act(admin, base, ADMIN, "renew", purpose="x", expires_on="2028-01-01")
    assert resp.status_code == 400 and "cannot change their own authorisation" in resp.text
    assert superuser.execute("select max(change_id) from governance.user_changes").fetchone()[0] == before
    refusals = superuser.execute("select count(*) from audit.events where event_type = 'admin_action_refused'"
                                 " and username = 'hackney_admin' and object = 'user camden_analyst'").fetchone()[0]
    assert refusals >= 5


def test_no_authorisation_may_outlast_the_agreement(base, passwords, superuser):
    admin = login(base, ADMIN, passwords[ADMIN])
    agreement_ends = superuser.execute(
        "select expires_on from governance.agreements where organisation = 'camden'").fetchone()[0]
    resp = authorise(admin, base, "camden_too_long", expires_on=agreement_ends + timedelta(days=1))
    assert resp.status_code == 400 and "cannot end after the Data Sharing Agreement" in resp.text
    resp = act(admin, base, "camden_analyst", "renew", purpose="x",
               expires_on=(agreement_ends + timedelta(days=1)).isoformat())
    assert resp.status_code == 400 and "cannot end after the Data Sharing Agreement" in resp.text
    assert superuser.execute("select count(*) from governance.user_changes where username = 'camden_too_long'"
                             ).fetchone()[0] == 0


def test_only_the_steward_reaches_the_governance_tables_and_only_through_their_functions(cfg, passwords):
    with pytest.raises(errors.InsufficientPrivilege):
        sql_as(cfg, "camden_admin", "select * from governance.user_changes")
    with pytest.raises(errors.InsufficientPrivilege):
        sql_as(cfg, "camden_admin", "select governance.renew_user('camden_admin', 'camden_analyst', 'x',"
                                    " current_date + 10)")
    steward = service.database.endpoint(cfg).as_user(credentials.USER_STEWARD_ROLE,
                                                      credentials.load(cfg)[credentials.USER_STEWARD_ROLE])
    with psycopg.connect(steward.conninfo(), autocommit=True) as conn:
        for query in ("select * from governance.user_changes", "select * from governance.second_factors",
                      "select * from audit.events"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(query)
        # and the functions decide who acts: a name that is no administrator is refused
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("select governance.renew_user('camden_analyst', 'camden_admin', 'x', current_date + 10)")


# ---------------------------------------------------------------------------------------------------------
# Invitations and the second factor
# ---------------------------------------------------------------------------------------------------------

def test_an_invitation_link_works_once(base, passwords):
    admin = login(base, ADMIN, passwords[ADMIN])
    link = link_of(authorise(admin, base, "camden_once"))
    weak = requests.Session()
    page = weak.get(link)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    refused = weak.post(link, data={"csrf_token": token, "password": "camden_once123", "confirm": "camden_once123",
                                    "code": "000000"})
    assert "may not contain your username" in refused.text
    assert accept_invitation(link).status_code == 200
    assert requests.get(link).status_code == 410
    assert requests.get(f"{base}/invite/{'A' * 43}/").status_code == 410
    assert requests.get(f"{base}/invite/short/").status_code == 404


def test_every_login_asks_for_a_one_time_code_used_once(base, passwords, superuser):
    before = last_event_id(superuser)
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False, second_factor=False)
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 401
    page = s.get(f"{base}/superset/welcome/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/second-factor/")
    assert s.get(f"{base}/terms/", allow_redirects=False).headers.get("Location", "").startswith("/second-factor/") \
        or "one-time code" in s.get(f"{base}/terms/").text
    token = _token(s, base, "/second-factor/")
    assert "not right" in s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": "123456"}).text
    # one_time_code gives the code of the step before now, acceptable to the end of this step: take it early in a
    # step, so that reusing it seconds later is refused as spent, not as out of its window
    while time.time() % 30 > 15:
        time.sleep(0.5)
    code = one_time_code("camden_analyst")
    assert s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": code},
                  allow_redirects=False).status_code == 302
    accept_terms(s, base)
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 200
    # the same code at another login is refused: a code seen over a shoulder is spent
    again = login(base, "camden_analyst", passwords["camden_analyst"], accept=False, second_factor=False)
    token = _token(again, base, "/second-factor/")
    assert "used already" in again.post(f"{base}/second-factor/", data={"csrf_token": token, "code": code}).text
    # five failures end the login: the spent code and four wrong ones
    for _ in range(4):
        again.post(f"{base}/second-factor/", data={"csrf_token": token, "code": "000000"})
    assert again.get(f"{base}/second-factor/", allow_redirects=False).headers.get("Location", "").endswith("/login/")
    kinds = [e["event_type"] for e in events(superuser, before, username="camden_analyst")]
    assert kinds.count("second_factor_failed") == 6 and kinds.count("second_factor_passed") == 1, kinds


def test_the_platforms_own_account_gives_a_code_too(cfg, base):
    from safestats.superset import server

    s = login(base, server.PROVISIONING_USER, server.admin_password(cfg), accept=False, second_factor=False)
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 401
    pass_second_factor(s, base, server.PROVISIONING_USER)
    assert s.get(f"{base}/api/v1/dashboard/").status_code != 401


def test_ten_wrong_codes_in_a_row_make_the_account_wait_whatever_the_session(base, passwords, superuser):
    onboarded(base, login(base, ADMIN, passwords[ADMIN]), "camden_guessed")
    for _ in range(2):      # each login ends after five; the count is the account's
        s = login(base, "camden_guessed", NEW_PASSWORD, accept=False, second_factor=False)
        token = _token(s, base, "/second-factor/")
        for _ in range(5):
            s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": "000000"})
    s = login(base, "camden_guessed", NEW_PASSWORD, accept=False, second_factor=False)
    token = _token(s, base, "/second-factor/")
    resp = s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": one_time_code("camden_guessed")})
    assert "too many wrong codes" in resp.text
    assert s.get(f"{base}/api/v1/dashboard/").status_code == 401


def test_a_token_in_any_form_of_authorization_header_passes_no_gate(base, weakened, passwords):
    """The JWT library reads `Bearer<TAB>token` and comma-separated lists too: any Authorization header is judged
    as a token (only the provisioning account's are honoured), never as an anonymous or cookie request."""
    token = jwt(base, "camden_analyst", passwords["camden_analyst"])["Authorization"].split(" ", 1)[1]
    forms = (f"Bearer\t{token}", f",Bearer {token}", f"Basic eA==, Bearer {token}", f"bearer  {token}")
    assert requests.get(f"{weakened}/api/v1/dashboard/", headers={"Authorization": forms[0]}).status_code == 200
    for form in forms:
        for path in ("/api/v1/dashboard/", "/api/v1/dataset/", "/api/v1/me/"):
            assert requests.get(f"{base}{path}", headers={"Authorization": form}).status_code in (401, 403), \
                (form[:8], path)


def test_a_next_address_never_leaves_the_app(base, passwords):
    s = login(base, "camden_analyst", passwords["camden_analyst"], accept=False)
    page = s.get(f"{base}/terms/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    version = re.search(r'name="version" value="([^"]+)"', page.text).group(1)
    resp = s.post(f"{base}/terms/", data={"csrf_token": token, "version": version, "next": "/\\evil.example/x"},
                  allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"] in ("/home/", f"{base}/home/"), resp.headers
    again = login(base, "camden_analyst", passwords["camden_analyst"], accept=False, second_factor=False)
    token = _token(again, base, "/second-factor/")
    resp = again.post(f"{base}/second-factor/?next=/%09/evil.example", allow_redirects=False,
                      data={"csrf_token": token, "code": one_time_code("camden_analyst")})
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"], resp.headers


def test_without_the_second_factor_control_a_password_alone_is_enough(weakened, passwords):
    """The control can fail: the weakened server (tests/security) lets a password-only session in."""
    s = login(weakened, "camden_analyst", passwords["camden_analyst"], accept=False, second_factor=False)
    assert s.get(f"{weakened}/api/v1/dashboard/").status_code == 200


def test_an_administrator_resets_a_lost_second_factor_with_a_new_link(base, passwords, superuser):
    admin = login(base, ADMIN, passwords[ADMIN])
    onboarded(base, admin, "camden_lost_phone")
    resp = act(admin, base, "camden_lost_phone", "reset-second-factor")
    link = link_of(resp)
    assert superuser.execute("select count(*) from governance.second_factors where username = 'camden_lost_phone'"
                             ).fetchone()[0] == 0
    assert accept_invitation(link, "a brand new passphrase").status_code == 200
    assert login(base, "camden_lost_phone", "a brand new passphrase").get(f"{base}/api/v1/dashboard/"
                                                                          ).status_code == 200
    assert superuser.execute("select count(*) from audit.events where event_type = 'second_factor_reset'"
                             " and object = 'user camden_lost_phone' and username = %s", (ADMIN,)).fetchone()[0] == 1


# ---------------------------------------------------------------------------------------------------------
# The organisation's audit report
# ---------------------------------------------------------------------------------------------------------

def test_the_audit_report_counts_what_the_audit_chain_holds_for_the_organisation(base, passwords, superuser):
    admin = login(base, ADMIN, passwords[ADMIN])
    month = date.today().replace(day=1)
    expected = {(u, f"{m:%Y-%m}"): (str(lo), str(fl), str(q), str(x), str(rows)) for u, m, lo, fl, q, x, rows in
                superuser.execute(
        "select username, date_trunc('month', event_time at time zone 'Europe/London')::date,"
        " count(*) filter (where event_type = 'login'),"
        " count(*) filter (where event_type in ('login_failed', 'second_factor_failed')),"
        " count(*) filter (where event_type = 'sqllab_query'), count(*) filter (where event_type = 'export'),"
        " coalesce(sum((detail ->> 'rows')::bigint) filter (where event_type = 'export'), 0)"
        " from audit.events where organisation = 'camden' and event_time >= %s group by 1, 2", (month,))}
    before = last_event_id(superuser)
    resp = admin.get(f"{base}/organisation/audit/?from={month:%Y-%m}&to={month:%Y-%m}&format=csv")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    found = {(r["User"], r["Month"]): (r["Logins"], r["Failed logins"], r["SQL Lab queries"], r["Exports"],
                                       r["Rows exported"]) for r in csv.DictReader(io.StringIO(resp.text))}
    assert found == expected
    others = {r[0] for r in superuser.execute(
        "select username from governance.user_changes where organisation <> 'camden'").fetchall()}
    assert not others & {user for user, _ in found}
    downloaded = events(superuser, before, event_type="audit_report_downloaded")
    assert [(e["username"], e["organisation"], e["detail"]["format"]) for e in downloaded] == [(ADMIN, "camden", "csv")]
    xlsx = admin.get(f"{base}/organisation/audit/?from={month:%Y-%m}&to={month:%Y-%m}&format=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == len(found) + 1
    assert admin.get(f"{base}/organisation/audit/").status_code == 200


# ---------------------------------------------------------------------------------------------------------
# The YAML users are an import
# ---------------------------------------------------------------------------------------------------------

def test_yaml_users_are_imported_and_an_administrators_change_is_theirs(cfg, superuser):
    agreements = service.load(cfg).agreements
    probe = User("camden_yaml_probe", "camden", "Yaml Probe", "probe@camden.gov.uk", "analyst", "Imported",
                 ADMIN, date(2025, 2, 10), date(2027, 6, 30))
    with_probe = replace(agreements, users={**agreements.users, probe.username: probe})
    assert governance.import_users(superuser, with_probe, "test") == [
        "camden_yaml_probe: imported from access_policies/users/camden.yml"]
    assert governance.import_users(superuser, with_probe, "test") == []
    changed = replace(with_probe, users={**with_probe.users, probe.username: replace(probe, purpose="Changed")})
    governance.import_users(superuser, changed, "test")
    assert latest(superuser, "camden_yaml_probe")[2] == "Changed"
    superuser.execute("insert into governance.user_changes (username, organisation, name, email, role, purpose,"
                      " expires_on, status, action, authorised_by, changed_by, source) select username,"
                      " organisation, name, email, role, 'Renewed on the web', expires_on, status, 'renew', %s, %s,"
                      " 'web' from governance.users where username = 'camden_yaml_probe'", (ADMIN, ADMIN))
    done = governance.import_users(superuser, with_probe, "test")
    assert len(done) == 1 and "managed by camden's administrators" in done[0]
    assert governance.import_users(superuser, agreements, "test") == []     # no longer in YAML: theirs to remove
    assert latest(superuser, "camden_yaml_probe")[0] == "active"
    superuser.execute("insert into governance.user_changes (username, organisation, name, email, role, purpose,"
                      " expires_on, status, action, authorised_by, changed_by, source) select username,"
                      " organisation, name, email, role, purpose, expires_on, 'removed', 'remove', %s, %s, 'web'"
                      " from governance.users where username = 'camden_yaml_probe'", (ADMIN, ADMIN))


def test_the_platform_team_sees_agreements_ending_users_to_recertify_and_idle_administrators(superuser):
    today = date.today()
    later = today + timedelta(days=200)
    found = governance.review(superuser, later)
    ending = {r[0] for r in found["agreements ending within 90 days"]}
    agreements = dict(superuser.execute("select organisation, expires_on from governance.agreements").fetchall())
    assert "islington" in ending                        # ended 2025-03-31
    assert ending == {o for o, end in agreements.items() if end <= later + timedelta(days=90)}
    stale = {r[0] for r in found["users not re-certified within 12 months"]}
    assert "camden_analyst" in stale                    # authorised on 2025-02-10 (its YAML)
    assert "camden_browser_new" not in stale            # authorised today, in the browser test
    idle = {r[0] for r in found["administrators with no login for 90 days"]}
    assert {"camden_admin", "hackney_admin"} <= idle    # 200 days on, their logins today are too old
    idle_now = {r[0] for r in governance.review(superuser, today)["administrators with no login for 90 days"]}
    assert not {"camden_admin", "hackney_admin"} & idle_now
