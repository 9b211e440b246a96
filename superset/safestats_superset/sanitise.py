"""User-written dashboard text cannot make a viewer's browser request anything: before a dashboard is saved
(created, edited, copied or imported), its Markdown is reduced to text formatting (no HTML, images, links or
frames) and its CSS loses every url() and @import."""
from __future__ import annotations

import json
import re

from sqlalchemy import event

HTML_TAG = re.compile(r"<[^>]*>?")
IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
REFERENCE = re.compile(r"^[ \t]*\[[^\]]+\]:.*$", re.MULTILINE)
REFERENCE_USE = re.compile(r"!?\[([^\]]*)\]\[[^\]]*\]")
CSS_FETCH = re.compile(r"url\s*\(|@import|expression\s*\(|image-set\s*\(|src\s*:", re.IGNORECASE)


def markdown(text: str) -> str:
    text = HTML_TAG.sub("", text)
    text = IMAGE.sub(r"\1", text)
    text = REFERENCE.sub("", text)
    text = REFERENCE_USE.sub(r"\1", text)
    text = LINK.sub(r"\1", text)
    return text.replace("<", "&lt;")


def css(text: str) -> str:
    return CSS_FETCH.sub("/* removed */(", HTML_TAG.sub("", text))


def position_json(raw: str | None) -> str | None:
    if not raw:
        return raw
    try:
        layout = json.loads(raw)
    except ValueError:
        return "{}"         # what cannot be read cannot be checked
    if not isinstance(layout, dict):
        return "{}"
    for component in layout.values():
        meta = component.get("meta") if isinstance(component, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("code"), str):
            meta["code"] = markdown(meta["code"])
    return json.dumps(layout)


def _dashboard_saved(mapper, connection, dashboard) -> None:
    dashboard.position_json = position_json(dashboard.position_json)
    if dashboard.css:
        dashboard.css = css(dashboard.css)


def install() -> None:
    from superset.models.dashboard import Dashboard

    for when in ("before_insert", "before_update"):
        if not event.contains(Dashboard, when, _dashboard_saved):
            event.listen(Dashboard, when, _dashboard_saved)
