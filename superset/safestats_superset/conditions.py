"""The conditions-of-use page: the version in force, with the user's own authorisation beside it (name,
organisation, agreement reference, purpose, expiry) and whom to tell about a suspected breach."""
from __future__ import annotations

from html import escape

STYLE = """
body { font-family: Inter, "Helvetica Neue", Arial, sans-serif; background: #f4f5f7; color: #1f2933; margin: 0; }
header { background: #0b3d5c; color: #fff; padding: 1rem 2rem; font-size: 1.25rem; font-weight: 600; }
header span { font-weight: 400; opacity: .8; margin-left: .75rem; font-size: 1rem; }
main { max-width: 52rem; margin: 2rem auto; background: #fff; border-radius: 8px; padding: 2rem 2.5rem;
       box-shadow: 0 1px 3px rgba(0,0,0,.12); line-height: 1.55; }
h1 { margin-top: 0; font-size: 1.6rem; }
table { border-collapse: collapse; margin: 1rem 0 1.5rem; width: 100%; }
th { text-align: left; width: 14rem; color: #52606d; font-weight: 500; padding: .35rem 1rem .35rem 0;
     vertical-align: top; }
td { padding: .35rem 0; }
ol li { margin-bottom: .6rem; }
.version { color: #52606d; font-size: .9rem; }
.actions { margin-top: 2rem; display: flex; gap: 1.5rem; align-items: center; }
button { background: #0b6e4f; color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; font-size: 1rem;
         cursor: pointer; }
"""


def page(username: str, user: dict, conditions: dict, csrf_token: str, next_url: str) -> str:
    """The page, every value escaped."""
    e = lambda v: escape(str(v or "-"))  # noqa: E731
    admins = ", ".join(user.get("administrators") or []) or "your organisation's SafeStats administrator"
    rows = [("Name", user.get("name")), ("Username", username), ("Organisation", user.get("organisation_name")),
            ("Data Sharing Agreement", user.get("dsa_reference")), ("Authorised purpose", user.get("purpose")),
            ("Your access ends", user.get("expires_on")), ("The agreement ends", user.get("agreement_expires_on"))]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    clauses = "".join(f"<li>{e(c)}</li>" for c in conditions["clauses"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>SafeStats conditions of use</title><style>{STYLE}</style></head><body>
<header>SafeStats<span>London community safety data</span></header>
<main>
<h1>Conditions of use</h1>
<p class="version" id="conditions-version">Version {e(conditions["version"])}, in force from
{e(conditions.get("effective_from"))}</p>
<p>You are signed in under this authorisation. Read the conditions and accept them to continue; you accept them
again at every login.</p>
<table id="authorisation">{table}</table>
<ol id="conditions">{clauses}</ol>
<p>Report a suspected breach to {e(admins)} and to the platform security team at
{e(conditions.get("report_breaches_to"))}.</p>
<form method="post" action="/terms/" class="actions">
<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">
<input type="hidden" name="next" value="{escape(next_url)}">
<input type="hidden" name="version" value="{e(conditions["version"])}">
<button type="submit" id="accept-conditions">I accept the conditions of use</button>
<a href="/logout/">Log out</a>
</form></main></body></html>"""
