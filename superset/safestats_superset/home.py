"""Each organisation's home page (/home/), where an analyst lands after the conditions of use: who they are
signed in as, what their agreement covers, the dashboards made for their organisation, and whom to ask."""
from __future__ import annotations

from html import escape

from flask import redirect, request
from flask_login import current_user

from safestats_superset import runtime
from safestats_superset.conditions import STYLE

HOME = "/home/"
EXTRA_STYLE = """
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 1rem; margin: 1rem 0 2rem; }
.card { border: 1px solid #d9e2ec; border-radius: 8px; padding: 1rem; text-decoration: none; color: #0b3d5c;
        font-weight: 600; background: #f8fafc; }
.card:hover { border-color: #0b3d5c; }
nav a { color: #fff; margin-left: 1.5rem; font-size: .95rem; font-weight: 400; }
td code { background: #f0f4f8; padding: 0 .3rem; border-radius: 3px; }
"""


def land():
    """before_request: Superset's own welcome page sends analysts to their organisation's home instead."""
    if request.method == "GET" and request.path.rstrip("/") == "/superset/welcome":
        return redirect(HOME)
    return None


def _dashboards() -> list[tuple[str, str]]:
    """(title, slug) of each dashboard shown to one of the user's roles (DASHBOARD_RBAC), as the user reads them."""
    from flask_appbuilder.security.sqla.models import Role
    from superset.extensions import db
    from superset.models.dashboard import Dashboard

    query = db.session.query(Dashboard).filter(Dashboard.published.is_(True))
    if current_user.username != runtime.provisioning_user():
        query = query.filter(Dashboard.roles.any(Role.id.in_([r.id for r in current_user.roles])))
    return sorted((d.dashboard_title, d.slug or str(d.id)) for d in query)


def home_page():
    if not current_user.is_authenticated:
        return redirect("/login/")
    user = runtime.named_users().get(current_user.username) or {}
    conditions = runtime.conditions()
    e = lambda v: escape(str(v or "-"))  # noqa: E731
    coverage = "".join(f"<tr><td><code>{e(d)}</code></td><td>{e(level)}</td><td>{e(rows)}</td></tr>"
                       for d, level, rows in user.get("datasets") or [])
    cards = "".join(f'<a class="card" href="/superset/dashboard/{escape(slug)}/">{e(title)}</a>'
                    for title, slug in _dashboards()) or "<p>No dashboard is made for your agreement yet.</p>"
    admins = ", ".join(user.get("administrators") or []) or "your organisation's SafeStats administrator"
    admin_links = ('<a href="/organisation/users/" id="manage-users">Users</a>'
                   '<a href="/organisation/audit/">Audit report</a>') if user.get("role") == "org_admin" else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>SafeStats: {e(user.get("organisation_name"))}</title><style>{STYLE}{EXTRA_STYLE}</style></head><body>
<header>SafeStats<span>{e(user.get("organisation_name"))}</span><nav style="float:right">
<a href="/dashboard/list/">Dashboards</a><a href="/sqllab/">SQL Lab</a><a href="/dictionary/">Data dictionary</a>
<a href="/tablemodelview/list/">Datasets</a><a href="/outputs/" id="outputs">Outputs</a>{admin_links}
<a href="/terms/">Conditions of use</a><a href="/logout/">Log out</a></nav></header>
<main>
<h1>{e(user.get("organisation_name"))}</h1>
<p>Signed in as <strong>{e(user.get("name"))}</strong> ({e(current_user.username)}) under Data Sharing Agreement
<strong>{e(user.get("dsa_reference"))}</strong>, for: {e(user.get("purpose"))}. Your access ends on
{e(user.get("expires_on"))}.</p>
<h2>Your dashboards</h2>
<div class="cards" id="dashboards">{cards}</div>
<h2>What your agreement covers</h2>
<p>Record level: the rows themselves, for the area shown; aggregate level: the released, disclosure-controlled
counts (counts of 1 to 7 suppressed, others rounded to 5). Each dashboard opens on the month its data reaches.</p>
<table id="coverage"><tr><th>Dataset</th><th>Level</th><th>Rows</th></tr>{coverage}</table>
<p>To query the data yourself, open <a href="/sqllab/">SQL Lab</a> with the
<a href="/dictionary/">data dictionary</a> beside it: every table and column you may read, and what each means.
Saved queries are shared with your colleagues in your organisation.</p>
<h2>Help</h2>
<p>For access to more data, a new user or anything about your agreement, ask {e(admins)}. To report a suspected
breach, tell them and the platform security team at {e(conditions.get("report_breaches_to"))}.</p>
</main></body></html>"""
