"""The monthly refresh flow: its schedule, and a real run under Prefect's test harness."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def flows(cfg):
    from safestats.cli import load_flow_module

    return load_flow_module()


def test_deployment_runs_at_two_on_the_second_london_time(flows):
    deployment = flows.deployment()
    assert deployment.name == "monthly-refresh"
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 2 2 * *"
    assert schedule.schedule.timezone == "Europe/London"


def test_refresh_flow_end_to_end_and_rerun(flows, tmp_path, empty_raw):
    from prefect.testing.utilities import prefect_test_harness

    from safestats.superset import server
    from safestats.synth import synthesise_police_uk

    synthesise_police_uk("2024-01", "2024-02", tmp_path / "land", scale=0.02)
    cached = server.paths().data_cache / "a-chart-result-cached-before-the-refresh"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text("stale numbers")
    with prefect_test_harness():
        first = flows.monthly_refresh(landing=str(tmp_path / "land"))
        emptied = not cached.exists() and cached.parent.is_dir()
        again = flows.monthly_refresh(landing=str(tmp_path / "land"))
    assert emptied      # dashboards answer from the refresh at once, not from results cached before it
    assert first.ok, first.build.failures
    assert first.file_counts() == {"loaded": 10}
    assert first.build.count("test", "pass") > 10 and first.build.count("test", "fail") == 0
    assert again.file_counts() == {"skipped": 10}
    assert again.ok
    months = empty_raw.execute("select count(distinct crime_month) from marts.fct_street_crimes").fetchone()[0]
    assert months == 2
    # the refresh made the outputs its files call for: each police file's feedback to its supplier
    assert first.outputs is not None and first.outputs.ok, first.outputs and first.outputs.failures
    feedback = {o.path for o in first.outputs.written if o.kind == "supplier_rejects"}
    assert len(feedback) == 10 and all(p.startswith("supplier_feedback/") for p in feedback)
    assert again.outputs is not None and not [o for o in again.outputs.written if o.kind == "supplier_rejects"]
