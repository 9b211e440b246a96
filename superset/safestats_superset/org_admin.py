"""The organisation administrator's pages, for org_admins of their own organisation only: its users (role,
purpose, who authorised them, expiry, last login, status), authorising a new analyst (which makes a one-time
link to pass on), renewing, suspending, reinstating and removing analysts, resetting a second factor, each
user's history, and who expires in the next 30 days. The database decides every change (governance functions:
the actor must be an active org_admin, the user an analyst of the same organisation, and no expiry may pass the
agreement's; administrators are the platform team's) and audits it; these pages only ask."""
from __future__ import annotations

import secrets
from datetime import date, timedelta

from flask import redirect, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from safestats_superset import audit, runtime, sessions, steward
from safestats_superset.pages import csrf_ok, e, page

USERS = "/organisation/users/"
LINK_DAYS = 3
EXPIRING_DAYS = 30
ACTIONS = ("renew", "suspend", "reinstate", "remove", "reset-second-factor")
NAV = (f'<a href="{USERS}">Users</a><a href="{USERS}?expiring=30">Expiring</a><a href="/organisation/audit/">'
       'Audit report</a><a href="/home/">Home</a><a href="/logout/">Log out</a>')


def administrator() -> dict | None:
    """The current user's entry when they are an active org_admin, else None."""
    if not current_user.is_authenticated:
        return None
    user = runtime.named_users().get(current_user.username) or {}
    return user if user.get("role") == "org_admin" and user.get("active") else None


def refused():
    name = getattr(current_user, "username", None)
    audit.try_write("admin_page_refused", name, request.path, {"method": request.method})
    return page("Not available", "<p>These pages are for your organisation's SafeStats administrators.</p>",
                status=403)


def _form(action: str, button: str, fields: str = "", warn: bool = False) -> str:
    return (f'<form method="post" action="{e(action)}"><input type="hidden" name="csrf_token" '
            f'value="{generate_csrf()}">{fields}<button class="small{" warn" if warn else ""}" '
            f'type="submit">{e(button)}</button></form>')


def users_page():
    admin = administrator()
    if admin is None:
        return refused()
    if request.method == "POST":
        return authorise(admin)
    rows = steward.call("organisation_users", current_user.username, rows=True)
    expiring = request.args.get("expiring")
    title = f"{admin.get('organisation_name')}: users"
    if expiring:
        horizon = date.today() + timedelta(days=EXPIRING_DAYS)
        rows = [r for r in rows if r["status"] in ("active", "invited") and r["expires_on"] <= horizon]
        title = f"{admin.get('organisation_name')}: authorisations ending within {EXPIRING_DAYS} days"
    agreement_ends = admin.get("agreement_expires_on")
    body = []
    for r in rows:
        target = f"{USERS}{r['username']}/"
        actions = []
        if r["role"] == "analyst" and r["status"] != "removed":
            actions.append(_form(
                target + "renew", "Renew",
                f'<input name="purpose" placeholder="Purpose, restated" required aria-label="purpose">'
                f'<input name="expires_on" type="date" max="{e(agreement_ends)}" required aria-label="expires on">'))
            if r["status"] == "suspended":
                actions.append(_form(target + "reinstate", "Reinstate"))
            elif r["status"] == "active":
                actions.append(_form(target + "suspend", "Suspend", warn=True))
            actions.append(_form(target + "reset-second-factor", "New link"))
            actions.append(_form(target + "remove", "Remove", warn=True))
        body.append(
            f'<tr data-username="{e(r["username"])}"><td><a href="{e(target)}">{e(r["username"])}</a><br>'
            f'{e(r["name"])}</td><td>{e(r["role"])}</td><td>{e(r["purpose"])}</td><td>{e(r["authorised_by"])}<br>'
            f'{e(r["authorised_on"])}</td><td class="date">{e(r["expires_on"])}</td>'
            f'<td class="date">{e(r["last_login"] and r["last_login"].strftime("%Y-%m-%d %H:%M"))}</td>'
            f'<td class="status">{e(r["status"])}{"" if r["second_factor"] else " (no second factor)"}</td>'
            f'<td>{"".join(actions)}</td></tr>')
    return page(title, f"""
<p>Your organisation's Data Sharing Agreement <strong>{e(admin.get('dsa_reference'))}</strong> ends on
<strong>{e(agreement_ends)}</strong>: no authorisation may last longer. Every change is recorded with your name.</p>
<table class="list" id="users"><tr><th>User</th><th>Role</th><th>Purpose</th><th>Authorised by</th><th>Ends</th>
<th>Last login</th><th>Status</th><th>Actions</th></tr>{''.join(body) or '<tr><td colspan="8">Nobody.</td></tr>'}
</table>
<h2>Authorise a new analyst</h2>
<p class="version">Administrators are authorised and changed by the SafeStats platform team.</p>
<form method="post" action="{USERS}" id="authorise">
<input type="hidden" name="csrf_token" value="{generate_csrf()}">
<label for="username">Username</label><input id="username" name="username" required pattern="[a-z][a-z0-9_]{{2,47}}">
<label for="name">Full name</label><input id="name" name="name" required>
<label for="email">E-mail</label><input id="email" name="email" type="email" required>
<input type="hidden" name="role" value="analyst">
<label for="purpose">Purpose of access</label><input id="purpose" name="purpose" required>
<label for="expires_on">Access ends on (at the latest {e(agreement_ends)})</label>
<input id="expires_on" name="expires_on" type="date" max="{e(agreement_ends)}" required>
<div class="actions"><button type="submit">Authorise and make an invitation link</button></div>
</form>""", wide=True, nav=NAV)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def _link_page(title: str, who: str, token: str):
    link = f"{request.host_url.rstrip('/')}/invite/{token}/"
    return page(title, f"""<p class="notice">Done. Give {e(who)} this link yourself (it is shown once, works once,
for {LINK_DAYS} days). With it they choose a password and set up their second factor.</p>
<p class="secret" id="invitation-link">{e(link)}</p><p><a href="{USERS}">Back to the users</a></p>""", nav=NAV)


def authorise(admin: dict):
    if not csrf_ok():
        return page("Not done", "<p>The form expired: reload the page.</p>", status=400, nav=NAV)
    f = request.form
    token = secrets.token_urlsafe(32)
    try:
        steward.call("authorise_user", current_user.username, f.get("username", "").strip(), f.get("name", ""),
                     f.get("email", "").strip(), f.get("role", ""), f.get("purpose", ""),
                     _date(f.get("expires_on")), steward.token_sha256(token), LINK_DAYS)
    except steward.Refused as why:
        audit.try_write("admin_action_refused", current_user.username, f"user {f.get('username', '')[:48]}",
                        {"action": "authorise", "reason": str(why)})
        return page("Not authorised", f'<p class="error" role="alert">{e(why)}.</p>'
                                      f'<p><a href="{USERS}">Back</a></p>', status=400, nav=NAV)
    return _link_page("User authorised", f.get("name", ""), token)


def user_page(username: str, action: str | None = None):
    admin = administrator()
    if admin is None:
        return refused()
    if action is None:
        try:
            history = steward.call("user_history", current_user.username, username, rows=True)
        except steward.Refused as why:
            return page("Not available", f"<p>{e(why)}.</p>", status=404, nav=NAV)
        if not history:
            return page("Not available", f"<p>no user {e(username)} in your organisation.</p>", status=404, nav=NAV)
        rows = "".join(f"<tr><td>{e(h['changed_at'].strftime('%Y-%m-%d %H:%M'))}</td><td>{e(h['action'])}</td>"
                       f"<td>{e(h['status'])}</td><td>{e(h['role'])}</td><td>{e(h['purpose'])}</td>"
                       f"<td>{e(h['expires_on'])}</td><td>{e(h['authorised_by'])} ({e(h['authorised_on'])})</td>"
                       f"<td>{e(h['changed_by'])}</td>"
                       f"<td>{e(h['reason'])}</td></tr>" for h in history)
        return page(f"{username}: history", f"""<table class="list" id="history"><tr><th>When</th><th>Change</th>
<th>Status</th><th>Role</th><th>Purpose</th><th>Ends</th><th>Authorised by</th><th>Changed by</th><th>Reason</th></tr>
{rows}</table>""", wide=True, nav=NAV)
    if request.method != "POST" or action not in ACTIONS:
        return page("Not available", "<p>Unknown action.</p>", status=405, nav=NAV)
    if not csrf_ok():
        return page("Not done", "<p>The form expired: reload the page.</p>", status=400, nav=NAV)
    actor, f = current_user.username, request.form
    try:
        if action == "renew":
            steward.call("renew_user", actor, username, f.get("purpose", ""), _date(f.get("expires_on")))
        elif action == "reset-second-factor":
            token = secrets.token_urlsafe(32)
            steward.call("reset_second_factor", actor, username, steward.token_sha256(token), LINK_DAYS)
            sessions.revoke(username)
            return _link_page("Second factor reset", username, token)
        else:
            status = {"suspend": "suspended", "remove": "removed", "reinstate": "active"}[action]
            steward.call("set_user_status", actor, username, status, f.get("reason", ""))
            superset_active(username, status == "active")
            if status != "active":
                sessions.revoke(username)
    except steward.Refused as why:
        audit.try_write("admin_action_refused", actor, f"user {username[:48]}", {"action": action, "reason": str(why)})
        return page("Not done", f'<p class="error" role="alert">{e(why)}.</p><p><a href="{USERS}">Back</a></p>',
                    status=400, nav=NAV)
    return redirect(USERS)


def superset_active(username: str, active: bool) -> None:
    """The Superset account follows at once (open sessions end at their next request: sessions.check)."""
    from superset import security_manager as sm
    from superset.extensions import db

    account = sm.find_user(username=username)
    if account is not None and account.active != active:
        account.active = active
        sm.update_user(account)
        db.session.commit()
