"""`safestats sdc check|release` and the refresh's release step, against the install's warehouse."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from safestats import dbt, warehouse
from safestats.config import Settings, settings
from safestats.sdc import release

PUBLISHED_MARTS = "marts.aggregates"   # the dbt folder of the agg_ marts, rebuilt once a release is published


@dataclass
class ReleaseOutcome:
    checked: release.ReleaseCheck
    published: list[str]
    rebuild: dbt.DbtOutcome | None     # None: nothing was published and every agg_ mart is there

    @property
    def ok(self) -> bool:
        return self.rebuild is None or self.rebuild.success


def check(cfg: Settings | None = None, *, published: bool = False) -> release.ReleaseCheck:
    """Attack the release candidates (or, with published=True, what analysts read in marts)."""
    cfg = cfg or settings()
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        if published:
            return release.check(conn, cfg.project_dir, schema="marts", previous_schema=None)
        return release.check(conn, cfg.project_dir)


def publish(cfg: Settings | None = None) -> ReleaseOutcome:
    """Check the candidate months that changed, publish those that pass, rebuild the agg_ marts from the release
    (when it published a month, an agg_ mart is missing, or a mart has not rebuilt a month published before, as
    when the process died between a release and its rebuild: otherwise they hold the release as it is)."""
    cfg = cfg or settings()
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        checked = release.check(conn, cfg.project_dir, changed_only=True)
        months = release.publish(conn, checked)
        marts = {r.name for r in release.relations(conn, "marts", cfg.project_dir)}
        behind = release.marts_behind(conn)
    whole = {r.name for r in checked.relations} <= marts
    rebuild = rebuild_published_marts(cfg) if months or not whole or behind else None
    return ReleaseOutcome(checked, months, rebuild)


def rebuild_published_marts(cfg: Settings) -> dbt.DbtOutcome:
    """The agg_ marts and their tests: under the fingerprint the warehouse was built with, each rebuilds the
    months the release recorded as published since it was built (macros/refresh_by_month.sql), and its row
    tests read those; otherwise each is built whole. It passes the refresh build's vars (no leak scan is
    selected), so that dbt keeps the parse the refresh saved rather than parsing the whole project again."""
    return dbt.build(cfg, full_scans=False, incremental=True, select=[PUBLISHED_MARTS])
