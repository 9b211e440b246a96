"""Named users live in PostgreSQL's governance tables (sql/governance.sql), where organisation administrators
manage them from the web front end; access_policies/users/ is an import format. `policies apply` records the
agreements' facts, imports the YAML users, and reads every user back from the tables."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta

import psycopg
import pyotp

from safestats.policies.agreements import Agreements, User

TOTP_STEP_SECONDS = 30
YAML_SOURCE = "access_policies/users/{}.yml"


def record_agreements(conn: psycopg.Connection, agreements: Agreements) -> None:
    """governance.agreements as access_policies/organisations/ says now: the rules administrators act under."""
    slugs = sorted(agreements.organisations)
    conn.execute("delete from governance.agreements where organisation <> all(%s)", (slugs,))
    for org in agreements.organisations.values():
        conn.execute(
            "insert into governance.agreements (organisation, role_name, name, dsa_reference, signed_on, expires_on,"
            " checklist_passed_on) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict (organisation) do update set role_name = excluded.role_name, name = excluded.name,"
            " dsa_reference = excluded.dsa_reference, signed_on = excluded.signed_on,"
            " expires_on = excluded.expires_on, checklist_passed_on = excluded.checklist_passed_on,"
            " recorded_at = now()",
            (org.slug, org.role, org.name, org.dsa_reference, org.signed_on, org.expires_on,
             org.checklist_passed_on))


FACTS = ("organisation", "name", "email", "role", "purpose", "expires_on", "authorised_by", "authorised_on")


def _latest(conn: psycopg.Connection) -> dict[str, dict]:
    cur = conn.execute("select username, organisation, name, email, role, purpose, expires_on, authorised_by,"
                       " authorised_on, status, source, changed_at from governance.users")
    names = [c.name for c in cur.description]
    return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}


def import_users(conn: psycopg.Connection, agreements: Agreements, actor: str) -> list[str]:
    """The YAML users as governance rows: a user new to the tables is imported, a change in the YAML of a user
    the YAML still manages is imported as a new row, and a user the YAML managed and no longer lists is
    removed. A user an administrator has changed since is theirs: the YAML no longer changes them (reported).
    Returns what was done, one line each."""
    latest, done = _latest(conn), []
    for user in agreements.users.values():
        source = YAML_SOURCE.format(user.organisation)
        have = latest.get(user.username)
        if have is not None and have["source"] != source:
            if any(have[f] != getattr(user, f) for f in FACTS) or have["status"] != "active":
                done.append(f"{user.username}: managed by {have['organisation']}'s administrators since "
                            f"{have['changed_at']:%Y-%m-%d}; {source} left unapplied")
            continue
        if have is not None and have["status"] == "active" and all(have[f] == getattr(user, f) for f in FACTS):
            continue
        conn.execute(
            "insert into governance.user_changes (username, organisation, name, email, role, purpose, expires_on,"
            " status, action, authorised_by, authorised_on, changed_by, source) values"
            " (%s, %s, %s, %s, %s, %s, %s, 'active', 'import', %s, %s, %s, %s)",
            (user.username, user.organisation, user.name, user.email, user.role, user.purpose, user.expires_on,
             user.authorised_by, user.authorised_on, actor, source))
        done.append(f"{user.username}: imported from {source}")
    for username, have in sorted(latest.items()):
        if (have["source"].startswith("access_policies/") and have["status"] != "removed"
                and username not in agreements.users):
            conn.execute(
                "insert into governance.user_changes (username, organisation, name, email, role, purpose,"
                " expires_on, status, action, authorised_by, authorised_on, changed_by, source, reason)"
                " select username, organisation, name, email, role, purpose, expires_on, 'removed', 'import',"
                " authorised_by, authorised_on, %s, source, %s from governance.users where username = %s",
                (actor, f"no longer in {have['source']}", username))
            conn.execute("delete from governance.second_factors where username = %s", (username,))
            done.append(f"{username}: removed (no longer in {have['source']})")
    return done


def enrol_second_factors(conn: psycopg.Connection, usernames: list[str]) -> list[str]:
    """A second factor for each of these accounts that has none (imported users and the platform's own
    accounts; people onboarded through an invitation enrol their own). Returns who was enrolled."""
    enrolled = []
    for username in usernames:
        row = conn.execute("insert into governance.second_factors (username, secret) values (%s, %s)"
                           " on conflict (username) do nothing returning username",
                           (username, pyotp.random_base32())).fetchone()
        if row:
            enrolled.append(username)
    return enrolled


def with_live_users(conn: psycopg.Connection, agreements: Agreements) -> Agreements:
    """The agreements with their users as the governance tables hold them (removed users left out), each
    expiry capped at the agreement's end."""
    users = {}
    for username, have in _latest(conn).items():
        org = agreements.organisations.get(have["organisation"])
        if have["status"] == "removed" or org is None:
            continue
        users[username] = User(username, have["organisation"], have["name"], have["email"], have["role"],
                               have["purpose"], have["authorised_by"], have["authorised_on"],
                               min(have["expires_on"], org.expires_on), status=have["status"],
                               source="web" if have["source"] == "web" else "import")
    return replace(agreements, users=users)


CODE_MARGIN_SECONDS = 5   # a code given this close to its step's end may reach the server after it


def current_code(conn: psycopg.Connection, username: str, *, wait: bool = True) -> str:
    """The one-time code the user's authenticator shows now, for the next time step SafeStats will accept (a
    step is accepted once: this waits for the clock when the steps now acceptable are used up)."""
    row = conn.execute("select secret, last_step from governance.second_factors where username = %s",
                       (username,)).fetchone()
    if row is None:
        raise LookupError(f"{username} has no second factor enrolled")
    secret, last_step = row
    while True:
        now = time.time()
        now_step = int(now) // TOTP_STEP_SECONDS
        # the step before now is accepted until the next begins: within seconds of that, the code is now's
        earliest = now_step - 1 if now - now_step * TOTP_STEP_SECONDS < TOTP_STEP_SECONDS - CODE_MARGIN_SECONDS \
            else now_step
        step = max(last_step + 1, earliest)
        if step <= now_step + 1 or not wait:
            return pyotp.TOTP(secret).at(step * TOTP_STEP_SECONDS)
        time.sleep((step - 1) * TOTP_STEP_SECONDS - time.time() + 0.5)


REVIEW_AGREEMENT_DAYS = 90
RECERTIFY_DAYS = 365
ADMIN_IDLE_DAYS = 90


def review(conn: psycopg.Connection, today: date) -> dict[str, list[tuple]]:
    """What the platform team follows up: agreements ending within 90 days; users (active or suspended) whose
    authorisation was last certified (authorised, renewed or imported) more than 12 months ago; administrators
    with no login for 90 days (or never)."""
    agreements = conn.execute(
        "select organisation, name, dsa_reference, expires_on from governance.agreements"
        " where expires_on <= %s::date + %s order by expires_on, organisation",
        (today, REVIEW_AGREEMENT_DAYS)).fetchall()
    stale = conn.execute(
        "select username, organisation, role, authorised_on from governance.users"
        " where status in ('active', 'suspended') and authorised_on < %s::date - %s order by 4, 1",
        (today, RECERTIFY_DAYS)).fetchall()
    idle = conn.execute(
        "select u.username, u.organisation, (select max(e.event_time)::date from audit.events as e"
        "  where e.username = u.username and e.event_type = 'login') as last_login"
        " from governance.users as u where u.role = 'org_admin' and u.status = 'active'"
        " order by 1").fetchall()
    idle = [r for r in idle if r[2] is None or r[2] < today - timedelta(days=ADMIN_IDLE_DAYS)]
    return {"agreements ending within 90 days": agreements, "users not re-certified within 12 months": stale,
            "administrators with no login for 90 days": idle}
