"""access_policies/: validation that names file and line, and a compiler whose apply is exact and audited."""
from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from safestats import database
from safestats.policies.agreements import AgreementError, load_agreements
from safestats.policies.catalogue import load_catalogue
from safestats.policies.compiler import compile_grants
from safestats.policies.plan import apply_plan, make_plan

PROJECT = Path(__file__).resolve().parents[1]
TODAY = date.today()


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(PROJECT / "models")


def policies_dir(tmp_path: Path, organisations: dict[str, str], users: dict[str, str]) -> Path:
    root = tmp_path / "access_policies"
    shutil.copytree(PROJECT / "access_policies" / "schema", root / "schema")
    (root / "organisations").mkdir()
    (root / "users").mkdir()
    for slug, text in organisations.items():
        (root / "organisations" / f"{slug}.yml").write_text(text)
    for slug, text in users.items():
        (root / "users" / f"{slug}.yml").write_text(text)
    return root


def organisation(datasets: str, *, expires: date = TODAY + timedelta(days=365), checklist: str = "2025-01-01",
                 area: str = "[E09000007]") -> str:
    return f"""name: Test Borough
type: borough
area: {area}
dsa:
  reference: T-1
  signed_on: 2025-01-01
  expires_on: {expires.isoformat()}
  legal_basis: Crime and Disorder Act 1998 s115
  purposes: [testing]
onboarding:
  security_checklist_passed_on: {checklist}
  approved_by: platform
datasets:
{datasets}
"""


def user(username: str, role: str = "analyst", by: str = "tst_admin",
         expires: date = TODAY + timedelta(days=100)) -> str:
    return f"""  - username: {username}
    name: Test Person
    email: {username}@example.org
    role: {role}
    purpose: testing
    authorised_by: {by}
    authorised_on: 2025-01-02
    expires_on: {expires.isoformat()}
"""


STREET_RECORD = "  police_uk_street_crimes: {level: record, geography: own_area}"


def test_the_demo_agreements_are_valid(catalogue):
    agreements = load_agreements(PROJECT / "access_policies", catalogue)
    assert len(agreements.organisations) >= 6
    kinds = {o.type for o in agreements.organisations.values()}
    assert {"borough", "police", "vru", "nhs_trust"} <= kinds
    assert any(not o.has_access(TODAY) for o in agreements.organisations.values())


def test_errors_name_file_line_and_problem(tmp_path, catalogue):
    root = policies_dir(tmp_path, {
        "tst": organisation("  police_uk_street_crimes: {level: record, geography: own_area}\n"
                            "  ambulance_dispatches: {level: record, geography: london}\n"
                            "  police_uk_crime_outcomes: {level: record, geography: london, "
                            "withheld_columns: [shoe_size]}"),
    }, {"tst": "users:\n" + user("tst_admin", role="org_admin", by="platform") + user("tst_analyst", by="someone")})
    with pytest.raises(AgreementError) as err:
        load_agreements(root, catalogue)
    problems = "\n".join(err.value.problems)
    assert "organisations/tst.yml:15: unknown dataset 'ambulance_dispatches'" in problems
    assert "organisations/tst.yml:16: police_uk_crime_outcomes: unknown column(s) shoe_size" in problems
    assert "users/tst.yml:10: tst_analyst is authorised by 'someone', who is not an org_admin of tst" in problems


def test_own_sites_needs_sites_and_keys_on_the_site_column(tmp_path, catalogue):
    own_sites = "  police_uk_street_crimes: {level: record, geography: own_sites}"
    root = policies_dir(tmp_path, {"tst": organisation(own_sites)}, {})
    with pytest.raises(AgreementError, match=r"organisations/tst.yml:14: police_uk_street_crimes: geography "
                                             r"own_sites but the organisation has no sites"):
        load_agreements(root, catalogue)

    trust = organisation(own_sites).replace(
        "area: [E09000007]", "area: [E09000007]\nsites: [RKEQ4, RKE01]")
    agreements = load_agreements(policies_dir(tmp_path / "sites", {"tst": trust}, {}), catalogue)
    sited = {name: replace(rel, site_column="site_code") if rel.dataset == "police_uk_street_crimes" else rel
             for name, rel in catalogue.items()}
    grants = {g.relation: g for g in compile_grants(agreements, sited, TODAY)}
    street = grants["fct_street_crimes"]
    assert (street.row_column, street.row_codes) == ("site_code", ("RKE01", "RKEQ4"))
    assert '"site_code" = any' in street.predicate().as_string(None)
    # without a site column the rows cannot be restricted to the trust's sites: no access at all
    assert "fct_street_crimes" not in {g.relation for g in compile_grants(agreements, catalogue, TODAY)}


def test_schema_errors_point_at_the_line(tmp_path, catalogue):
    root = policies_dir(tmp_path, {"tst": organisation(STREET_RECORD).replace("type: borough", "type: castle")}, {})
    with pytest.raises(AgreementError, match=r"organisations/tst.yml:2: type: 'castle' is not one of"):
        load_agreements(root, catalogue)


def test_user_expiry_after_the_dsa_is_capped_with_a_warning(tmp_path, catalogue):
    dsa_end = TODAY + timedelta(days=30)
    root = policies_dir(tmp_path, {"tst": organisation(STREET_RECORD, expires=dsa_end)},
                        {"tst": "users:\n" + user("tst_admin", role="org_admin", by="platform",
                                                  expires=dsa_end + timedelta(days=200))})
    agreements = load_agreements(root, catalogue)
    assert agreements.users["tst_admin"].expires_on == dsa_end
    assert len(agreements.warnings) == 1 and "capped" in agreements.warnings[0]


def _apply(conn, root, catalogue, passwords):
    plan = make_plan(conn, load_agreements(root, catalogue), catalogue, TODAY, passwords, lambda: "pw-" + "x" * 20)
    passwords.update(plan.new_passwords)
    apply_plan(conn, plan, catalogue, actor="test")
    return plan


def _login(bootstrap, username, password):
    return psycopg.connect(bootstrap.as_user(username, password).conninfo(), connect_timeout=5)


def test_apply_is_idempotent_audited_and_removal_takes_access_away(cfg, bootstrap, superuser, tmp_path, catalogue):
    from safestats.policies import service

    passwords: dict[str, str] = {}
    users = "users:\n" + user("tst_admin", role="org_admin", by="platform") + user("tst_analyst")
    root = policies_dir(tmp_path / "v1", {"tst": organisation(STREET_RECORD)}, {"tst": users})
    audited = superuser.execute("select count(*) from audit.events where event_type = 'policy_change'").fetchone()[0]
    first = _apply(superuser, root, catalogue, passwords)
    assert first.changes
    again = make_plan(superuser, load_agreements(root, catalogue), catalogue, TODAY, passwords, lambda: "unused")
    assert again.changes == [], [c.summary for c in again.changes]
    assert superuser.execute("select count(*) from audit.events where event_type = 'policy_change'"
                             ).fetchone()[0] == audited + 1
    with _login(bootstrap, "tst_analyst", passwords["tst_analyst"]) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "tst_analyst"

    # The analyst leaves the YAML: the login is disabled and the membership revoked.
    root2 = policies_dir(tmp_path / "v2", {"tst": organisation(STREET_RECORD)},
                         {"tst": "users:\n" + user("tst_admin", role="org_admin", by="platform")})
    _apply(superuser, root2, catalogue, passwords)
    with pytest.raises(psycopg.OperationalError):
        _login(bootstrap, "tst_analyst", passwords["tst_analyst"])
    assert superuser.execute("select count(*) from pg_auth_members a join pg_roles m on m.oid = a.member"
                             " where m.rolname = 'tst_analyst'").fetchone()[0] == 0

    # The organisation leaves: its role and every grant and policy go; its remaining user cannot log in.
    root3 = policies_dir(tmp_path / "v3", {}, {})
    _apply(superuser, root3, catalogue, passwords)
    assert superuser.execute("select count(*) from pg_roles where rolname = 'org_tst'").fetchone()[0] == 0
    assert superuser.execute("select count(*) from pg_policy where polname like 'dsa_tst__%'").fetchone()[0] == 0
    with pytest.raises(psycopg.OperationalError):
        _login(bootstrap, "tst_admin", passwords["tst_admin"])
    service.apply(cfg)   # the demo agreements back for the tests after this one


def test_an_agreement_without_a_passed_checklist_gives_nothing(cfg, bootstrap, superuser, tmp_path, catalogue):
    from safestats.policies import service

    passwords: dict[str, str] = {}
    root = policies_dir(tmp_path, {"tst": organisation(STREET_RECORD, checklist="null")},
                        {"tst": "users:\n" + user("tst_admin", role="org_admin", by="platform")})
    plan = _apply(superuser, root, catalogue, passwords)
    assert not plan.grants
    with pytest.raises(psycopg.OperationalError):
        _login(bootstrap, "tst_admin", passwords["tst_admin"])
    connect = superuser.execute("select has_database_privilege('org_tst', current_database(), 'CONNECT')"
                                ).fetchone()[0]
    assert connect is False
    service.apply(cfg)


def test_dev_dsn_prints_a_url_for_the_users_own_role(cfg, bootstrap):
    import subprocess
    import sys

    from safestats.policies import service

    service.apply(cfg)
    agreements = service.load(cfg).agreements
    username = next(u.username for u in agreements.users.values()
                    if agreements.organisations[u.organisation].has_access(TODAY) and u.expires_on >= TODAY)
    out = subprocess.run([sys.executable, "-m", "safestats.cli", "dev", "dsn", "--user", username],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    who = subprocess.run([str(database.psql_path()), out.stdout.strip(), "-XAtc", "select current_user"],
                         capture_output=True, text=True)
    assert who.stdout.strip() == username, who.stderr
    unknown = subprocess.run([sys.executable, "-m", "safestats.cli", "dev", "dsn", "--user", "nobody"],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "no credentials for user 'nobody'" in unknown.stderr


class _Enrolled:
    """governance.second_factors' one row, as current_code reads it."""

    def __init__(self, secret: str, last_step: int):
        self.row = (secret, last_step)

    def execute(self, *_):
        return self

    def fetchone(self):
        return self.row


@pytest.mark.parametrize("into_step", [0.0, 12.0, 24.9, 25.1, 29.99])
def test_a_given_one_time_code_is_still_accepted_seconds_later(monkeypatch, into_step):
    """The code current_code gives (the tests' and the bench's logins) must outlive the trip to the server:
    the step before now is accepted only until the next step begins, so near that edge the code is now's."""
    import pyotp

    from safestats.policies import governance

    secret, step_seconds = pyotp.random_base32(), governance.TOTP_STEP_SECONDS
    start = 1_900_000_000 // step_seconds * step_seconds + into_step
    monkeypatch.setattr(governance.time, "time", lambda: start)
    code = governance.current_code(_Enrolled(secret, 0), "camden_analyst", wait=False)
    later = start + 2.0      # a login's trip to the server, with time to spare
    # SafeStats accepts the code of the step now, or of one either side (second_factor.accepted_step)
    server_step = int(later) // step_seconds
    assert code in {pyotp.TOTP(secret).at(s * step_seconds) for s in (server_step - 1, server_step, server_step + 1)}
    # and never a step already used
    used = int(start) // step_seconds
    assert governance.current_code(_Enrolled(secret, used), "u", wait=False) == pyotp.TOTP(secret).at(
        (used + 1) * step_seconds)
