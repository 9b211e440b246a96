"""Organisations do not reach each other through Superset's own objects.

While an analyst's request runs, every ORM read of charts, dashboards, saved queries, key-value entries
(permalinks, filter states) and users is narrowed to those made by the analyst's own organisation or by the
platform (the provisioning account, or no one): lists, single reads by id, slug or uuid, explore and
Superset's raw queries alike. So another organisation's chart or dashboard answers 404, and the user
directory (owners pickers, created-by filters) lists the analyst's own organisation only.
"""
from __future__ import annotations

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event, or_
from sqlalchemy.orm import Session, with_loader_criteria

from safestats_superset import runtime
from safestats_superset.request_guard import STATIC

_IN_SCOPE_LOOKUP = "_safestats_scope_lookup"


def remember_viewer() -> None:
    """before_request: who this request runs for, read once (narrowing must never load a user itself); a static
    file's request runs for nobody, and loads no user."""
    if STATIC.fullmatch(request.path):
        g.safestats_viewer = None
        return
    name = current_user.username if current_user.is_authenticated else None
    g.safestats_viewer = None if name in (None, runtime.provisioning_user()) else name


def viewer() -> str | None:
    """The analyst this request runs for, or None when nothing is narrowed (no request, no login, the platform)."""
    if not has_request_context() or g.get(_IN_SCOPE_LOOKUP):
        return None
    return g.get("safestats_viewer")


def colleagues(name: str) -> set[str]:
    """The usernames whose objects this user may see: their organisation's and the platform's."""
    org = runtime.organisation_of(name)
    same = {u for u, spec in runtime.named_users().items() if org is not None and spec.get("organisation") == org}
    return same | {name, runtime.provisioning_user()}


def _user_ids(session: Session, names: set[str]) -> list[int]:
    from superset import security_manager

    user_model = security_manager.user_model
    setattr(g, _IN_SCOPE_LOOKUP, True)
    try:
        return [row[0] for row in session.query(user_model.id).filter(user_model.username.in_(sorted(names)))]
    finally:
        setattr(g, _IN_SCOPE_LOOKUP, False)


def _narrow(state) -> None:
    if not state.is_select:
        return
    name = viewer()
    if name is None:
        return
    from superset import security_manager
    from superset.key_value.models import KeyValueEntry
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice
    from superset.models.sql_lab import SavedQuery

    cache = g.setdefault("_safestats_colleague_ids", {})
    if name not in cache:
        cache[name] = _user_ids(state.session, colleagues(name))
    ids = cache[name]
    user_model = security_manager.user_model
    state.statement = state.statement.options(
        *(with_loader_criteria(model, lambda cls: or_(cls.created_by_fk.in_(ids), cls.created_by_fk.is_(None)),
                               include_aliases=True)
          for model in (Slice, Dashboard, SavedQuery, KeyValueEntry)),
        with_loader_criteria(user_model, lambda cls: cls.id.in_(ids), include_aliases=True),
    )


def related_users(query):
    """EXTRA_RELATED_QUERY_FILTERS['user']: owners pickers list the analyst's organisation only."""
    name = viewer()
    if name is None:
        return query
    from superset import security_manager

    user_model = security_manager.user_model
    return query.filter(user_model.username.in_(sorted(colleagues(name))))


def install(app) -> None:
    app.before_request(remember_viewer)
    if not event.contains(Session, "do_orm_execute", _narrow):
        event.listen(Session, "do_orm_execute", _narrow)
