"""The scheduled refresh under a real Prefect server and process worker: the deployment prefect.yaml declares and
its schedule as the server shows them, one run created the way the schedule creates it and carried out by the
worker, a failing run, and a stop that leaves no process behind."""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from safestats import scheduler

TASKS = {"prepare_warehouse", "ingest_landing", "build_warehouse", "release_aggregates", "publish_outputs",
         "clear_chart_cache", "summarise"}


def _running(pid: int) -> bool:
    """Alive and not a zombie (this process started it and has not reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(cfg):
    """This session's install served on a free loopback port; stopped whatever the tests did."""
    old = os.environ.get("SAFESTATS_PREFECT_PORT")
    os.environ["SAFESTATS_PREFECT_PORT"] = str(_free_port())
    try:
        yield scheduler.start(cfg)
    finally:
        scheduler.stop(cfg)
        if old is None:
            os.environ.pop("SAFESTATS_PREFECT_PORT", None)
        else:
            os.environ["SAFESTATS_PREFECT_PORT"] = old


def api(method: str, path: str, body: dict | None = None):
    resp = requests.request(method, scheduler.api_url() + path, json=body, timeout=10)
    resp.raise_for_status()
    return resp.json()


def deployment() -> dict:
    (found,) = api("POST", "/deployments/filter", {"deployments": {"name": {"any_": ["monthly-refresh"]}}})
    return found


def test_the_server_shows_the_deployment_and_its_schedule(served, cfg):
    assert served == scheduler.url()
    page = requests.get(served + "/", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200 and "<html" in page.text      # the UI (its single page)
    d = deployment()
    assert d["entrypoint"] == "flows/monthly_refresh.py:monthly_refresh"
    assert d["work_pool_name"] == "safestats"
    assert d["pull_steps"] == [{"prefect.deployments.steps.set_working_directory":
                                {"directory": "{{ $SAFESTATS_PROJECT_DIR }}"}}]
    (schedule,) = d["schedules"]
    assert schedule["active"]
    assert schedule["schedule"]["cron"] == "0 2 2 * *" and schedule["schedule"]["timezone"] == "Europe/London"
    assert api("GET", "/work_pools/safestats")["type"] == "process"

    # The server's scheduler has created the next run itself: 02:00 London time on the 2nd, in the future.
    (nxt,) = api("POST", "/flow_runs/filter", {
        "flow_runs": {"deployment_id": {"any_": [d["id"]]}, "state": {"type": {"any_": ["SCHEDULED"]}}},
        "sort": "EXPECTED_START_TIME_ASC", "limit": 1})
    assert nxt["auto_scheduled"]
    when = datetime.fromisoformat(nxt["expected_start_time"].replace("Z", "+00:00"))
    london = when.astimezone(ZoneInfo("Europe/London"))
    assert (london.day, london.hour, london.minute) == (2, 2, 0)
    assert when > datetime.now(timezone.utc)

    info = scheduler.status(cfg)
    assert info["healthy"] and info["worker_online"] and info["server_pid"] and info["worker_pid"]
    assert info["next_run"] == london.isoformat()


def test_the_flow_module_serves_the_schedule_prefect_yaml_declares(cfg):
    from safestats.cli import load_flow_module

    declared = scheduler.declared(cfg)
    (schedule,) = load_flow_module().deployment().schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (declared.cron, declared.timezone)


def test_a_run_goes_through_the_server_and_the_worker(served, cfg, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    started = time.time()
    run_id = scheduler.run_now(cfg, parameters={"landing": str(landing)})
    run = scheduler.wait_for_run(run_id, cfg, timeout=600)
    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["deployment_id"] == deployment()["id"] and run["work_pool_name"] == "safestats"
    assert run["parameters"] == {"landing": str(landing)}

    tasks = api("POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    states = {t["task_key"].rsplit("-", 1)[0]: t["state_type"] for t in tasks}
    assert TASKS <= set(states) and set(states.values()) == {"COMPLETED"}, states

    # The run's log, as its page in the UI shows it (sent in batches: the last may follow the final state).
    deadline = time.monotonic() + 15
    while True:
        logs = api("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_DESC",
                                           "limit": 200})
        if any("refresh summary" in line["message"] for line in logs) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert any("refresh summary" in line["message"] for line in logs), [line["message"][:80] for line in logs]
    # The run refreshed this install's warehouse: dbt wrote its results under this session's SAFESTATS_HOME.
    assert (cfg.home / "target" / "run_results.json").stat().st_mtime > started


def test_a_failing_run_shows_as_failed(served, cfg, tmp_path):
    run_id = scheduler.run_now(cfg, parameters={"landing": str(tmp_path / "no-such-folder")})
    run = scheduler.wait_for_run(run_id, cfg, timeout=300)
    assert run["state_type"] == "FAILED"
    assert "does not exist" in run["state"]["message"]
    (seen,) = api("POST", "/flow_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    assert seen["state_name"] == "Failed"


def test_start_again_is_a_no_op_and_stop_leaves_nothing_behind(served, cfg):
    pids = scheduler.server_pid(cfg), scheduler.worker_pid(cfg)
    assert scheduler.start(cfg) == served
    assert (scheduler.server_pid(cfg), scheduler.worker_pid(cfg)) == pids

    assert scheduler.stop(cfg)
    assert scheduler.server_pid(cfg) is None and scheduler.worker_pid(cfg) is None
    assert scheduler.processes(cfg) == []
    for pid in pids:
        assert not _running(pid)
    assert not scheduler.healthy()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", scheduler.port())) != 0    # nothing listens on the port any more
    assert not scheduler.status(cfg)["running"]
    assert not scheduler.stop(cfg)
