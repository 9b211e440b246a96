"""Saved queries are shared within the organisation: an analyst's saved-query list (SQL Lab's "Saved queries"
and /api/v1/saved_query/) holds their colleagues' too, to open and run as themselves (row-level security
still decides every row). Only the author edits or deletes one. Installed with organisation_objects (objects.py),
which narrows every read of them to the analyst's own organisation; without it nothing is shared."""
from __future__ import annotations

import functools

from flask import request

READS = ("GET", "HEAD")


def share_within_organisation() -> None:
    from superset.queries.saved_queries.filters import SavedQueryFilter

    original = SavedQueryFilter.apply
    if getattr(original, "_shared_within_organisation", False):
        return

    @functools.wraps(original)
    def apply(self, query, value):
        if request.method in READS:
            return query          # objects.py keeps it to the organisation's (and the platform's)
        return original(self, query, value)

    apply._shared_within_organisation = True
    SavedQueryFilter.apply = apply
