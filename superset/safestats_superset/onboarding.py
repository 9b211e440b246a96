"""Onboarding a person: the one-time link an administrator passes on (/invite/<token>/). The invitee chooses a
password and enrols an authenticator (a TOTP secret made here, kept in the server-side session until a code
from it is given); then their database login gets a password no person knows (identity pass-through), the
link is used up and their Superset account is made. The same page serves a second-factor reset link."""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets

import pyotp
from flask import request, session
from flask_wtf.csrf import generate_csrf

from safestats_superset import runtime, second_factor, steward
from safestats_superset.pages import EXPIRED_FORM, csrf_ok, e, page

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
MIN_PASSWORD = 12
# The most common passwords of breach corpora that pass the length rule (NIST SP 800-63B asks for a check).
COMMON = frozenset({"password1234", "123456789012", "qwertyuiopas", "passwordpassword", "iloveyou1234",
                    "letmein12345", "welcome12345", "administrator", "changeme1234", "safestats123",
                    "aaaaaaaaaaaa", "111111111111", "1234567890123", "qwerty123456", "password123!"})


def password_problem(password: str, confirm: str, username: str, name: str) -> str | None:
    """Why a chosen password is refused, or None: long enough, not a common one, not the person's own names."""
    if password != confirm:
        return "the two passwords differ"
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters (a few words make a good one)"
    if len(password) > 128:
        return "a password may have at most 128 characters"
    lowered = password.lower()
    if lowered in COMMON or len(set(lowered)) < 5:
        return "that password is too easy to guess"
    parts = [username.lower(), *(p.lower() for p in name.split() if len(p) >= 3)]
    if any(p and p in lowered for p in parts):
        return "a password may not contain your username or your name"
    return None


def accept(digest: str, secret: str, username: str) -> None:
    """The invitation accepted in the database with a new database password, and that password written to
    user_credentials.json (0600, as `safestats policies apply` writes it), both under the file's lock: of two
    submissions of one link, the one the database refuses writes nothing."""
    password = secrets.token_urlsafe(24)
    path = runtime.home() / "user_credentials.json"
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        steward.call("accept_invitation", digest, secret, password)
        stored = json.loads(path.read_text()) if path.exists() else {}
        stored[username] = password
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(dict(sorted(stored.items())), indent=2) + "\n")
        tmp.replace(path)


def superset_account(username: str, password: str) -> None:
    """The person's Superset account, active, with their organisation's roles and the password they chose."""
    from superset import security_manager as sm
    from superset.extensions import db

    user = runtime.named_users().get(username)
    if user is None:
        raise steward.Refused("the account could not be found after onboarding")
    role_names = (runtime.organisations().get(user["organisation"]) or {}).get("superset_roles", {}).get(user["role"])
    roles = [sm.find_role(r) for r in role_names or []]
    if not roles or None in roles:
        raise steward.Refused("the organisation's Superset roles are missing: ask the platform team to run "
                              "`safestats superset sync`")
    first, _, last = user["name"].partition(" ")
    account = sm.find_user(username=username)
    if account is None:
        account = sm.add_user(username, first or username, last or "-", user["email"], roles, password=password)
    else:
        account.first_name, account.last_name, account.email = first or username, last or "-", user["email"]
        account.roles, account.active = roles, user["status"] == "active"   # a suspended user stays so
        sm.update_user(account)
        sm.reset_password(account.id, password)
    db.session.commit()


def _secret_key(digest: str) -> str:
    return f"safestats_invite_{digest[:16]}"


def invite_page(token: str):
    if not TOKEN.fullmatch(token):
        return page("Invitation", "<p>This link is not valid.</p>", status=404)
    digest = steward.token_sha256(token)
    found = steward.call("invitation", digest, rows=True)
    if not found:
        return page("Invitation", "<p>This link has been used or has expired. Ask your organisation's SafeStats "
                                  "administrator for a new one.</p>", status=410)
    invitation = found[0]
    username = invitation["username"]
    secret = session.get(_secret_key(digest)) or pyotp.random_base32()
    session[_secret_key(digest)] = secret
    message = ""
    if request.method == "POST":
        if not csrf_ok():
            return EXPIRED_FORM
        password = request.form.get("password", "")
        problem = password_problem(password, request.form.get("confirm", ""), username, invitation["name"])
        step = second_factor.accepted_step(secret, request.form.get("code", ""))
        if problem is None and step is None:
            problem = ("the code is not the one your authenticator shows for this key: check you added the key "
                       "above and that your device's clock is right")
        if problem is None:
            try:
                accept(digest, secret, username)
                steward.call("use_second_factor_step", username, step)
                superset_account(username, password)
            except steward.Refused as refused:
                problem = str(refused)
        if problem is None:
            session.pop(_secret_key(digest), None)
            return page("You are set up", f"""<p class="notice">{e(invitation['name'])}, your SafeStats account
<strong>{e(username)}</strong> is ready.</p><p>Log in with your username, the password you chose and a code from
your authenticator. Every login asks for a new code.</p><p><a href="/login/">Log in</a></p>""")
        message = f'<p class="error" role="alert">Not done: {e(problem)}.</p>'
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="SafeStats")
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    what = ("Set your password and your authenticator" if invitation["kind"] == "onboard"
            else "Enrol a new authenticator (and set a new password)")
    return page("Invitation", f"""
<p>This link is for <strong>{e(invitation['name'])}</strong> ({e(username)}) of {e(invitation['organisation'])}.
It can be used once, until {e(invitation['expires_at'].strftime('%Y-%m-%d %H:%M UTC'))}.</p>
<h2>{e(what)}</h2>{message}
<ol><li>In an authenticator app (any that supports time-based one-time passwords), add an account with this key:
<p class="secret" id="totp-secret">{e(grouped)}</p>
<p class="version">Or open this link on the device: <code id="totp-uri">{e(uri)}</code></p></li>
<li>Choose a password of at least {MIN_PASSWORD} characters, not your name or username.</li>
<li>Type the code your app now shows.</li></ol>
<form method="post" action="/invite/{e(token)}/">
<input type="hidden" name="csrf_token" value="{generate_csrf()}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password"
 required minlength="{MIN_PASSWORD}">
<label for="confirm">Password again</label><input id="confirm" name="confirm" type="password"
 autocomplete="new-password" required>
<label for="code">Code from your authenticator</label><input id="code" name="code" inputmode="numeric"
 autocomplete="one-time-code" required>
<div class="actions"><button type="submit">Set up my account</button></div>
</form>""")
