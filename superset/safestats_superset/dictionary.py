"""The data dictionary (/dictionary/): every table the analyst's organisation may query in SQL Lab, with each
column its database role reads, the column's label and type, and what it means (the dbt descriptions), as the
last `safestats superset sync` asked PostgreSQL. Open it beside SQL Lab while writing a query."""
from __future__ import annotations

from html import escape

from flask import redirect
from flask_login import current_user

from safestats_superset import runtime
from safestats_superset.conditions import STYLE
from safestats_superset.home import EXTRA_STYLE, HOME

DICTIONARY = "/dictionary/"
TABLE_STYLE = """
.toc { columns: 3; font-size: .9rem; margin-bottom: 2rem; }
section { margin-bottom: 2.5rem; } section h2 code { font-size: 1.1rem; }
td:first-child code { white-space: nowrap; } td:last-child { width: 50%; }
"""


def dictionary_page():
    if not current_user.is_authenticated:
        return redirect("/login/")
    user = runtime.named_users().get(current_user.username) or {}
    tables = runtime.dictionary().get(user.get("organisation") or "", [])
    e = lambda v: escape(str(v or ""))  # noqa: E731
    toc = "".join(f'<li><a href="#{e(t["relation"])}">{e(t["relation"])}</a></li>' for t in tables)
    sections = "".join(
        f'<section id="{e(t["relation"])}"><h2><code>{e(t["relation"])}</code></h2><p>{e(t["description"])}</p>'
        "<table><tr><th>Column</th><th>Label</th><th>Type</th><th>Meaning</th></tr>"
        + "".join(f"<tr><td><code>{e(name)}</code></td><td>{e(label)}</td><td>{e(kind)}</td><td>{e(meaning)}</td></tr>"
                  for name, label, kind, meaning in t["columns"])
        + "</table></section>" for t in tables) or "<p>Your agreement gives you no table to query yet.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>SafeStats data dictionary: {e(user.get("organisation_name"))}</title>
<style>{STYLE}{EXTRA_STYLE}{TABLE_STYLE}</style></head><body>
<header>SafeStats<span>{e(user.get("organisation_name"))}</span><nav style="float:right">
<a href="{HOME}">Home</a><a href="/sqllab/">SQL Lab</a><a href="/logout/">Log out</a></nav></header>
<main>
<h1>Data dictionary</h1>
<p>The tables your agreement lets you query in SQL Lab (schema <code>marts</code>) and the columns you may read,
with what each means. Row-level security decides which rows you see.</p>
<ul class="toc">{toc}</ul>
{sections}
</main></body></html>"""
