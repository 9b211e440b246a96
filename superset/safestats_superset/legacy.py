"""The legacy chart endpoint (/superset/explore_json/, used by Superset's older viz types) keys its data cache
without the user in Superset 6.1 (viz.BaseViz.cache_key): the user is added to the key here, so one user's
cached result can never be served to another, whatever the viz type."""
from __future__ import annotations

from safestats_superset.gate import username

_MARK = "_safestats_keyed_by_user"


def key_cache_by_user() -> None:
    from superset import viz

    original = viz.BaseViz.cache_key
    if getattr(original, _MARK, False):
        return

    def cache_key(self, query_obj, **extra):
        # an anonymous caller gets a key of its own too, never a shared one
        return original(self, query_obj, **extra, safestats_user=username() or "(anonymous)")

    setattr(cache_key, _MARK, True)
    viz.BaseViz.cache_key = cache_key
