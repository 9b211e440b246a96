"""The second factor: after the password, a time-based one-time code (RFC 6238, 30-second steps, one step
either side for clock drift) from the authenticator the user enrolled when they accepted their invitation.
Until the code is given on this login's session, pages redirect to /second-factor/ and every other route
answers 401. A code's step is accepted once per user (the governance tables remember the last), so a code
seen over someone's shoulder is worthless once used; five wrong codes end the login."""
from __future__ import annotations

import hmac
import re
import time
from urllib.parse import quote

import pyotp
from flask import jsonify, redirect, request, session
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf

from safestats_superset import audit, sessions, steward
from safestats_superset.gate import has_bearer, local_path
from safestats_superset.pages import EXPIRED_FORM, csrf_ok, e, page

PASSED = "safestats_second_factor"
FAILURES = "safestats_second_factor_failures"
MAX_FAILURES = 5
STEP_SECONDS = 30
PATH = "/second-factor/"
EXEMPT = re.compile(r"/static/.+|/login/?|/logout/?|/second-factor/?|/invite/[A-Za-z0-9_-]{20,100}/?"
                    r"|/health|/healthcheck|/ping|/api/v1/security/login/?")


def logged_in() -> None:
    session.pop(PASSED, None)
    session.pop(FAILURES, None)


def passed() -> bool:
    login_at = session.get(sessions.LOGIN_AT)
    return login_at is not None and session.get(PASSED) == login_at


def gate():
    """before_request, after the session check and before the conditions of use."""
    if has_bearer() or EXEMPT.fullmatch(request.path) or not current_user.is_authenticated or passed():
        return None
    if request.path.startswith("/api/") or request.method != "GET":
        return jsonify(message=f"Give your one-time code at {PATH} first."), 401
    return redirect(PATH + "?next=" + quote(request.full_path.rstrip("?"), safe="/"))


def accepted_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is (now, or one either side), or None."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp, step = pyotp.TOTP(secret), int((now or time.time()) // STEP_SECONDS)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


def verify(username: str, code: str) -> str | None:
    """None when the code is good (its step now used up); otherwise why not, the failure counted for the user
    (in the database, across sessions: ten in a row make the account wait 15 minutes)."""
    found = steward.call("second_factor", username, rows=True)
    if not found:
        return "no second factor is enrolled for this account: ask your administrator for a new link"
    secret, locked_until = found[0]["secret"], found[0]["locked_until"]
    if locked_until is not None:
        return (f"too many wrong codes: try again after {locked_until:%H:%M} UTC, or ask your administrator "
                "for a new link")
    step = accepted_step(secret, code)
    if step is not None and steward.call("use_second_factor_step", username, step):
        return None
    steward.call("second_factor_failed", username)
    if step is None:
        return "that code is not right: check your authenticator's clock and try the code it shows now"
    return "that code has been used already: wait for the next one"


def _next_url() -> str:
    return local_path(request.values.get("next"))


def second_factor_page():
    if not current_user.is_authenticated:
        return redirect("/login/")
    message = ""
    if request.method == "POST":
        if not csrf_ok():
            return EXPIRED_FORM
        name = current_user.username
        try:
            problem = verify(name, request.form.get("code", ""))
        except Exception:
            problem = "the second factor cannot be checked now: try again later"
        if problem is None:
            session[PASSED] = session.get(sessions.LOGIN_AT)
            session.pop(FAILURES, None)
            audit.try_write("second_factor_passed", name, "superset", {"remote_addr": request.remote_addr})
            return redirect("/terms/?next=" + quote(_next_url(), safe="/"))
        failures = session.get(FAILURES, 0) + 1
        session[FAILURES] = failures
        audit.try_write("second_factor_failed", name, "superset",
                        {"reason": problem, "attempt": failures, "remote_addr": request.remote_addr})
        if failures >= MAX_FAILURES:
            logout_user()
            session.clear()
            return redirect("/login/")
        message = f'<p class="error" role="alert">Not accepted: {problem}.</p>'
    return page("Your one-time code", f"""
<p>Open the authenticator app you set up for SafeStats and type the six-digit code it shows for
<strong>{e(current_user.username)}</strong>.</p>{message}
<form method="post" action="{PATH}">
<input type="hidden" name="csrf_token" value="{generate_csrf()}">
<input type="hidden" name="next" value="{quote(_next_url(), safe='/?=&')}">
<label for="code">Code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{{6,7}}" required
 autofocus>
<div class="actions"><button type="submit">Continue</button><a href="/logout/">Log out</a></div>
</form>
<p class="version">Lost your authenticator? Ask your organisation's administrator to reset your second factor:
they will give you a new link.</p>""")
