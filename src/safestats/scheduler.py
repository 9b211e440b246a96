"""`safestats serve start|stop|status|run-now`: this install's Prefect server and a process worker, so the monthly
refresh runs on the schedule prefect.yaml declares and every run, retry and failure shows in Prefect's UI.

Both run in the background in their own sessions, under $SAFESTATS_HOME/prefect (SQLite database, logs, pid
files), bound to 127.0.0.1 only. The worker starts each flow run as a child process in the project directory
with the same SAFESTATS_HOME, PREFECT_HOME and PREFECT_API_URL, so a scheduled run refreshes this install's
warehouse and reports to this install's server."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from safestats.config import Settings, settings

DEFAULT_PORT = 4200
HEALTH_TIMEOUT = 90         # the first start migrates a new database: seconds on a small machine
SCHEDULE_TIMEOUT = 30       # the server's scheduler looks at recently changed deployments every few seconds
STOP_TIMEOUT = 30
WORKER_QUERY_SECONDS = 5    # how soon a run due now starts (Prefect's default is 10)
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
MARKER = "SAFESTATS_PREFECT_SERVICE"    # in the environment of every process this module starts, for stop()


class SchedulerError(RuntimeError):
    """A one-line, user-facing reason why the scheduled refresh cannot be served."""


@dataclass(frozen=True)
class Paths:
    project: Path
    home: Path

    @property
    def dir(self) -> Path:
        return self.home / "prefect"

    @property
    def database(self) -> Path:
        return self.dir / "server.db"

    @property
    def server_log(self) -> Path:
        return self.dir / "server.log"

    @property
    def worker_log(self) -> Path:
        return self.dir / "worker.log"

    @property
    def server_pid(self) -> Path:
        return self.dir / "server.pid"

    @property
    def worker_pid(self) -> Path:
        return self.dir / "worker.pid"

    @property
    def prefect_file(self) -> Path:
        return self.project / "prefect.yaml"


def paths(cfg: Settings | None = None) -> Paths:
    cfg = cfg or settings()
    return Paths(cfg.project_dir, cfg.home)


def port() -> int:
    value = os.environ.get("SAFESTATS_PREFECT_PORT") or str(DEFAULT_PORT)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SchedulerError(f"SAFESTATS_PREFECT_PORT={value!r} is not a port number")
    return int(value)


def url() -> str:
    """The UI's address (the API is under /api)."""
    return f"http://127.0.0.1:{port()}"


def api_url() -> str:
    return url() + "/api"


# ---------------------------------------------------------------------------------------------------------
# What prefect.yaml declares
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    """The one deployment prefect.yaml declares, as registered with the server."""
    name: str
    entrypoint: str
    pool: str
    queue: str
    cron: str
    timezone: str
    spec: dict
    pull: list

    @property
    def flow_file(self) -> str:
        return self.entrypoint.rsplit(":", 1)[0]


def declared(cfg: Settings | None = None, prefect_file: Path | None = None) -> Declared:
    prefect_file = prefect_file or paths(cfg).prefect_file
    try:
        spec = yaml.safe_load(prefect_file.read_text())
    except FileNotFoundError:
        raise SchedulerError(f"{prefect_file} is missing: it declares the scheduled refresh") from None
    deployments = spec.get("deployments") or []
    if len(deployments) != 1:
        raise SchedulerError(f"{prefect_file} must declare exactly one deployment, not {len(deployments)}")
    (d,) = deployments
    schedules = d.get("schedules") or []
    if len(schedules) != 1 or "cron" not in schedules[0]:
        raise SchedulerError(f"{prefect_file}: the deployment needs exactly one cron schedule")
    pool = d.get("work_pool") or {}
    return Declared(name=d["name"], entrypoint=d["entrypoint"], pool=pool.get("name") or "safestats",
                    queue=pool.get("work_queue_name") or "default", cron=schedules[0]["cron"],
                    timezone=schedules[0].get("timezone") or "UTC", spec=d,
                    pull=d.get("pull", spec.get("pull")) or [])


def declared_schedule(prefect_file: Path | None = None):
    """prefect.yaml's schedule as a `Cron`, for the flow module: one definition for both ways of serving it."""
    from prefect.schedules import Cron

    d = declared(prefect_file=prefect_file)
    return Cron(d.cron, timezone=d.timezone)


# ---------------------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------------------

def environment(cfg: Settings | None = None) -> dict[str, str]:
    """What the server, the worker and (inherited through the worker) every flow run see."""
    cfg = cfg or settings()
    p = paths(cfg)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "SAFESTATS_HOME": str(cfg.home),
        "SAFESTATS_PROJECT_DIR": str(cfg.project_dir),
        "PREFECT_HOME": str(p.dir),
        "PREFECT_API_URL": api_url(),
        "PREFECT_UI_URL": url(),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port()),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{p.database}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",                # a run's log in the UI says what the refresh did
        "PREFECT_WORKER_QUERY_SECONDS": str(WORKER_QUERY_SECONDS),
        "PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES": "false",   # the project's own environment, never a fresh one
        MARKER: str(p.dir),
    })
    return env


def _pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    try:    # a zombie (exited, not yet reaped by whoever started it) is not running
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
    except (OSError, IndexError):
        pass
    return pid


def server_pid(cfg: Settings | None = None) -> int | None:
    return _pid(paths(cfg).server_pid)


def worker_pid(cfg: Settings | None = None) -> int | None:
    return _pid(paths(cfg).worker_pid)


def _spawn(args: list[str], env: dict, log: Path, pidfile: Path, cwd: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"--- {datetime.now().isoformat(timespec='seconds')} {' '.join(args[1:])}\n".encode())
        out.flush()
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return ""
    return lines[-1][:200] if lines else ""


def _get(path: str, timeout: float = 2.0):
    with urllib.request.urlopen(api_url() + path, timeout=timeout) as resp:
        return json.loads(resp.read() or "null")


def _post(path: str, body: dict, timeout: float = 5.0):
    req = urllib.request.Request(api_url() + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or "null")


def healthy(timeout: float = 2.0) -> bool:
    try:
        return _get("/health", timeout) is True
    except (OSError, ValueError):
        return False


def _port_taken() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port())) == 0


@contextmanager
def _client_settings():
    """Prefect's client in this process talks to this install's server (whatever the caller's profile says)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url()}):
        yield


# ---------------------------------------------------------------------------------------------------------
# Start, stop, status
# ---------------------------------------------------------------------------------------------------------

def start(cfg: Settings | None = None) -> str:
    """Server, work pool, deployment, worker (each only if missing; the deployment is re-registered from
    prefect.yaml each time); returns the UI's URL."""
    cfg = cfg or settings()
    p = paths(cfg)
    spec = declared(cfg)
    p.dir.mkdir(parents=True, exist_ok=True)
    env = environment(cfg)
    if server_pid(cfg) is None:
        if _port_taken():
            raise SchedulerError(f"port {port()} on 127.0.0.1 is already in use: set SAFESTATS_PREFECT_PORT "
                                 "to a free port")
        _spawn([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port())],
               env, p.server_log, p.server_pid, p.dir)
    _wait_healthy(cfg)
    _ensure_pool(spec)
    deployment_id = register(cfg)
    if worker_pid(cfg) is None:
        _spawn([sys.executable, "-m", "prefect", "worker", "start", "--pool", spec.pool, "--type", "process",
                "--name", f"safestats-{socket.gethostname()}", "--limit", "1"],
               env, p.worker_log, p.worker_pid, cfg.project_dir)
    _wait_worker(cfg, spec)
    _wait_scheduled(cfg, deployment_id)
    return url()


def _wait_healthy(cfg: Settings) -> None:
    p = paths(cfg)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while not healthy():
        if server_pid(cfg) is None:
            p.server_pid.unlink(missing_ok=True)
            raise SchedulerError(f"the Prefect server exited while starting ({_last_line(p.server_log)}): "
                                 f"see {p.server_log}")
        if time.monotonic() > deadline:
            stop(cfg)
            raise SchedulerError(f"the Prefect server did not become healthy on {api_url()}/health within "
                                 f"{HEALTH_TIMEOUT}s: see {p.server_log}")
        time.sleep(0.5)


def _ensure_pool(spec: Declared) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with _client_settings(), get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(spec.pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=spec.pool, type="process", description="SafeStats' scheduled refresh, run on this machine",
                base_job_template=ProcessWorker.get_default_base_job_template()))
            return
    if pool.type != "process":
        raise SchedulerError(f"work pool {spec.pool!r} exists with type {pool.type!r}, not 'process'")


class _PullSteps:
    """prefect.yaml's pull steps, stored with the deployment as written (templates resolved when a run starts)."""

    def __init__(self, steps: list[dict]):
        self.steps = steps
        self._base = Path.cwd()

    def set_base_path(self, path: Path) -> None:
        self._base = path

    @property
    def destination(self) -> Path:
        return self._base

    @property
    def pull_interval(self) -> int:
        return 60

    async def pull_code(self) -> None:
        pass

    def to_pull_step(self) -> list[dict]:
        return self.steps


def register(cfg: Settings | None = None) -> str:
    """Register (or update) prefect.yaml's deployment with the running server, as `prefect deploy` would;
    returns its id. (`prefect deploy --all` registers it too, then fails on a Prefect 3.8.8 bug while listing
    the pool's workers.)"""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import load_flow_from_entrypoint

    cfg = cfg or settings()
    spec = declared(cfg)
    d = spec.spec
    flow = load_flow_from_entrypoint(f"{cfg.project_dir / spec.flow_file}:{spec.entrypoint.rsplit(':', 1)[1]}")
    deployment = RunnerDeployment(
        name=spec.name, flow_name=flow.name, entrypoint=spec.entrypoint, work_pool_name=spec.pool,
        work_queue_name=spec.queue, parameters=d.get("parameters") or {}, description=d.get("description"),
        tags=d.get("tags") or [], storage=_PullSteps(spec.pull),
        job_variables=(d.get("work_pool") or {}).get("job_variables") or {})
    deployment._set_defaults_from_flow(flow)
    schedules = [{"schedule": CronSchedule(cron=s["cron"], timezone=s.get("timezone") or "UTC"),
                  "active": s.get("active", True)} for s in d["schedules"]]
    with _client_settings():
        return str(deployment.apply(schedules=schedules))


def _workers_online(pool: str) -> list[dict]:
    workers = _post(f"/work_pools/{pool}/workers/filter", {"offset": 0, "limit": 50})
    return [w for w in workers if w.get("status") == "ONLINE"]


def _wait_worker(cfg: Settings, spec: Declared) -> None:
    p = paths(cfg)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while not _workers_online(spec.pool):
        if worker_pid(cfg) is None:
            p.worker_pid.unlink(missing_ok=True)
            raise SchedulerError(f"the Prefect worker exited while starting ({_last_line(p.worker_log)}): "
                                 f"see {p.worker_log}")
        if time.monotonic() > deadline:
            raise SchedulerError(f"the Prefect worker did not come online within {HEALTH_TIMEOUT}s: "
                                 f"see {p.worker_log}")
        time.sleep(0.5)


def _deployment(spec: Declared) -> dict | None:
    found = _post("/deployments/filter", {"deployments": {"name": {"any_": [spec.name]}}, "offset": 0, "limit": 1})
    return found[0] if found else None


def _next_run(deployment_id: str) -> dict | None:
    runs = _post("/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]},
                                                     "state": {"type": {"any_": ["SCHEDULED"]}}},
                                       "sort": "EXPECTED_START_TIME_ASC", "limit": 1, "offset": 0})
    return runs[0] if runs else None


def _wait_scheduled(cfg: Settings, deployment_id: str) -> None:
    """A scheduler that schedules nothing is a failed start, not a quiet one."""
    deadline = time.monotonic() + SCHEDULE_TIMEOUT
    while _next_run(deployment_id) is None:
        if time.monotonic() > deadline:
            log = paths(cfg).server_log
            why = ""
            if "supply a bulk_dml decorated function" in log.read_text(errors="replace"):
                why = (f" (its scheduler fails under SQLAlchemy {metadata.version('sqlalchemy')}; Prefect 3.8's "
                       "works under SQLAlchemy 2.0)")
            raise SchedulerError(f"the Prefect server has not scheduled the next refresh within "
                                 f"{SCHEDULE_TIMEOUT}s{why}: see {log}")
        time.sleep(1)


def processes(cfg: Settings | None = None) -> list[int]:
    """Processes this module started for this install and still running, with their children (a flow run in
    flight); none once stop() has returned."""
    mark = f"{MARKER}={paths(cfg).dir}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if mark in proc.joinpath("environ").read_bytes().split(b"\0") and int(proc.name) != os.getpid():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def _terminate(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)


def _kill(pid: int, sig: int = signal.SIGKILL, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if _alive(pid)]
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, PermissionError, FileNotFoundError):
        return False
    except (OSError, IndexError):
        return True


def stop(cfg: Settings | None = None) -> bool:
    """Worker first, with any run in flight (marked Cancelled, not left Running for ever), then the server;
    True if anything was running."""
    cfg = cfg or settings()
    p = paths(cfg)
    stopped = _stop(p.worker_pid)
    left = processes(cfg)
    left = [pid for pid in left if pid != server_pid(cfg)]
    if left:
        stopped = True
        for pid in left:
            _kill(pid, signal.SIGTERM)
        for pid in _wait_gone(left, 10):
            _kill(pid)
    _cancel_interrupted(cfg)
    stopped = _stop(p.server_pid) or stopped
    for pid in _wait_gone(processes(cfg), 5):
        stopped = True
        _kill(pid)
    return stopped


def _stop(pidfile: Path) -> bool:
    pid = _pid(pidfile)
    if pid is not None:
        _terminate(pid)
        for late in _wait_gone([pid], STOP_TIMEOUT):
            _kill(late, group=True)
    pidfile.unlink(missing_ok=True)
    return pid is not None


def _cancel_interrupted(cfg: Settings) -> None:
    try:
        if not healthy():
            return
        deployment = _deployment(declared(cfg))
        runs = _post("/flow_runs/filter", {
            "flow_runs": {"deployment_id": {"any_": [deployment["id"]]},
                          "state": {"type": {"any_": ["PENDING", "RUNNING", "CANCELLING"]}}},
            "offset": 0, "limit": 50}) if deployment else []
        for run in runs:
            _post(f"/flow_runs/{run['id']}/set_state", {"state": {
                "type": "CANCELLED", "name": "Cancelled",
                "message": "interrupted: the scheduler was stopped (`safestats serve stop`)"}, "force": True})
    except (OSError, ValueError, SchedulerError):
        pass    # stopping matters more than the record of an interrupted run


def status(cfg: Settings | None = None) -> dict:
    cfg = cfg or settings()
    p = paths(cfg)
    spec = declared(cfg)
    spid, wpid = server_pid(cfg), worker_pid(cfg)
    up = spid is not None and healthy()
    info = {"running": up, "url": url(), "server_pid": spid, "healthy": up, "worker_pid": wpid,
            "worker_online": False, "deployment": spec.name, "schedule": f"{spec.cron} ({spec.timezone})",
            "next_run": None, "logs": {"server": str(p.server_log), "worker": str(p.worker_log)}}
    if up:
        info["worker_online"] = bool(_workers_online(spec.pool))
        deployment = _deployment(spec)
        run = _next_run(deployment["id"]) if deployment else None
        if run:
            when = datetime.fromisoformat(run["expected_start_time"].replace("Z", "+00:00"))
            info["next_run"] = when.astimezone(ZoneInfo(spec.timezone)).isoformat()
    return info


# ---------------------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------------------

def run_now(cfg: Settings | None = None, parameters: dict | None = None) -> str:
    """A run of the deployment due now, created through the API as the schedule creates one; the worker picks
    it up within seconds. Returns the flow run's id."""
    from prefect.deployments import run_deployment

    spec = declared(cfg)
    if not healthy():
        raise SchedulerError(f"the Prefect server is not running on {url()}: run `safestats serve start`")
    deployment = _deployment(spec)
    if deployment is None:
        raise SchedulerError(f"deployment {spec.name!r} is not registered: run `safestats serve start`")
    with _client_settings():
        run = run_deployment(deployment["id"], parameters=parameters or {},
                             scheduled_time=datetime.now(timezone.utc), timeout=0, as_subflow=False)
    return str(run.id)


def flow_run(flow_run_id: str) -> dict:
    """The flow run as the API (and the UI) shows it."""
    return _get(f"/flow_runs/{flow_run_id}")


def wait_for_run(flow_run_id: str, cfg: Settings | None = None, timeout: float = 1800) -> dict:
    """Block until the flow run reaches a final state (COMPLETED, FAILED, CRASHED, CANCELLED); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        run = flow_run(flow_run_id)
        if run["state_type"] in FINAL:
            return run
        if time.monotonic() > deadline:
            raise SchedulerError(f"flow run {flow_run_id} is still {run['state_name']} after {timeout:.0f}s: "
                                 f"see {paths(cfg).worker_log}")
        time.sleep(1)
