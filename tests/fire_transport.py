"""Shared steps of the LFB and TfL dataset tests: a clean raw layer, ingest, one selective dbt build."""
from __future__ import annotations

import psycopg

from safestats import dbt, warehouse
from safestats.ingest import ingest_file

# Checks that read every landed dataset or every relation past the privacy boundary, run with each build.
CROSS_CHECKS = ["test_name:loads_account_for_every_row", "assert_one_active_load_per_file_period",
                "assert_no_point_location_past_the_privacy_boundary",
                "assert_no_sensitive_value_past_the_privacy_boundary",
                "assert_only_the_privacy_boundary_reads_staging",
                "rows_reach_the_mart_or_are_counted_fct_fire_incidents",
                "rows_reach_the_mart_or_are_counted_fct_bus_safety_incidents",
                "rows_reach_the_mart_or_are_counted_fct_transport_crimes"]


def truncate_raw(superuser, contracts) -> None:
    tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
    superuser.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")


def ingest_all(cfg, contracts, paths):
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        return [ingest_file(loader, p, contracts) for p in paths]


def build(cfg, *models: str):
    """Build the given marts with everything upstream, the quality models and their tests, and the
    cross-dataset checks; cautious, so no test of a model outside the selection runs."""
    selection = [f"+{m}" for m in models] + CROSS_CHECKS
    outcome = dbt.run(["build", "--select", *selection, "--indirect-selection", "cautious"], cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0, outcome.failures
    assert outcome.count("test", "pass") > 20
    return outcome
