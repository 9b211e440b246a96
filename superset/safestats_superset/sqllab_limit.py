"""SQL Lab keeps a query's own LIMIT: Superset replaces it with the row limit picked in the editor (a `LIMIT 3`
ran as `LIMIT 1001`). The smaller of the two now applies."""
from __future__ import annotations

import functools


def install() -> None:
    from superset import sql_lab

    original = sql_lab.apply_limit
    if getattr(original, "_keeps_own_limit", False):
        return

    @functools.wraps(original)
    def apply_limit(query, parsed_statement) -> None:
        own = parsed_statement.get_limit_value() if hasattr(parsed_statement, "get_limit_value") else None
        if own is not None and (not query.limit or own < query.limit):
            query.limit = own
        original(query, parsed_statement)

    apply_limit._keeps_own_limit = True
    sql_lab.apply_limit = apply_limit
