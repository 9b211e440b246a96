"""The frame of SafeStats' own pages (second factor, invitations, the administrator's pages): the conditions
page's style, the title, the body given (already escaped by the caller)."""
from __future__ import annotations

from html import escape

from flask import request

from safestats_superset.conditions import STYLE

EXTRA_STYLE = """
label { display: block; margin: 1rem 0 .3rem; font-weight: 500; }
input, select, textarea { font-size: 1rem; padding: .5rem; border: 1px solid #bcccdc; border-radius: 6px;
                          width: 100%; box-sizing: border-box; }
.error { color: #a61b1b; background: #fdecea; padding: .6rem 1rem; border-radius: 6px; }
.notice { color: #0b6e4f; background: #e6f4ee; padding: .6rem 1rem; border-radius: 6px; }
.secret { font-family: monospace; font-size: 1.2rem; letter-spacing: .15rem; background: #f0f4f8; padding: .4rem .8rem;
          border-radius: 6px; word-break: break-all; }
table.list th, table.list td { border-bottom: 1px solid #e4e7eb; padding: .45rem .5rem; width: auto;
                              font-size: .92rem; }
table.list form { display: inline; }
table.list td.date { white-space: nowrap; }
table.list button, .small { padding: .3rem .7rem; font-size: .85rem; }
button.warn { background: #a61b1b; }
nav a { color: #fff; margin-left: 1.5rem; font-size: .95rem; font-weight: 400; }
main.wide { max-width: 80rem; }
"""


def e(value) -> str:
    return escape(str("-" if value is None or value == "" else value))


def page(title: str, body: str, *, status: int = 200, wide: bool = False, nav: str = ""):
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SafeStats: {e(title)}</title>
<style>{STYLE}{EXTRA_STYLE}</style></head><body><header>SafeStats<span>{e(title)}</span>
<nav style="float:right">{nav}</nav></header>
<main{' class="wide"' if wide else ''}><h1>{e(title)}</h1>{body}</main></body></html>"""
    return html, status, {"Cache-Control": "no-store"}   # links and keys are shown once: never cached


EXPIRED_FORM = ("The form expired or did not come from this site: reload the page.", 400)


def csrf_ok() -> bool:
    """The form's CSRF token is this session's (checked here as well as by Superset's CSRFProtect, so the pages
    do not depend on app-wide settings such as WTF_CSRF_EXEMPT_LIST)."""
    from flask_wtf.csrf import validate_csrf
    from wtforms.validators import ValidationError

    try:
        validate_csrf(request.form.get("csrf_token", ""))
        return True
    except ValidationError:
        return False
