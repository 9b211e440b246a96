"""`safestats superset start|stop|status`: gunicorn serving Superset from .venv-superset, one per SAFESTATS_HOME."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from safestats import credentials, database
from safestats.config import Settings, settings

PROVISIONING_USER = "safestats_admin"
DEFAULT_BIND = "127.0.0.1:8088"
HEALTH_TIMEOUT = 90


class SupersetError(RuntimeError):
    """A one-line, user-facing reason why Superset cannot be used."""


@dataclass(frozen=True)
class Paths:
    project: Path
    home: Path

    @property
    def venv_bin(self) -> Path:
        return Path(os.environ.get("SAFESTATS_SUPERSET_VENV") or self.project / ".venv-superset") / "bin"

    @property
    def dir(self) -> Path:
        return self.home / "superset"

    @property
    def config(self) -> Path:
        return self.project / "superset" / "superset_config.py"

    @property
    def pidfile(self) -> Path:
        return self.dir / "gunicorn.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / "superset.log"

    @property
    def secret_key(self) -> Path:
        return self.dir / "secret_key"

    @property
    def admin_password_file(self) -> Path:
        return self.dir / "admin_password"

    @property
    def stamp(self) -> Path:
        return self.dir / "initialised"

    @property
    def data_cache(self) -> Path:
        return self.dir / "cache" / "data"      # superset_config's DATA_CACHE_CONFIG


def clear_data_cache(cfg: Settings | None = None) -> int:
    """Every cached chart result removed (a refresh has published new numbers), the directory kept: the cache
    writes into the directory it found at start, and without it nothing would be cached again. Returns how many
    entries went."""
    directory = paths(cfg).data_cache
    removed = 0
    for entry in directory.glob("*") if directory.is_dir() else ():
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def paths(cfg: Settings | None = None) -> Paths:
    cfg = cfg or settings()
    return Paths(cfg.project_dir, cfg.home)


def bind() -> str:
    return os.environ.get("SAFESTATS_SUPERSET_BIND") or DEFAULT_BIND


def url() -> str:
    return "http://" + bind()


def _private_file(path: Path, make) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make() + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()


def admin_password(cfg: Settings | None = None) -> str:
    return _private_file(paths(cfg).admin_password_file, lambda: secrets.token_urlsafe(24))


def environment(cfg: Settings | None = None) -> dict[str, str]:
    p = paths(cfg)
    env = dict(os.environ)
    env.update({
        "SAFESTATS_HOME": str(p.home),
        "SUPERSET_CONFIG_PATH": str(p.config),
        "SUPERSET_HOME": str(p.dir),
        "PYTHONPATH": str(p.config.parent),
        "FLASK_APP": "superset.app:create_app()",
        "SUPERSET_LOG_LEVEL": "warning",
    })
    return env


def write_runtime(cfg: Settings | None = None) -> None:
    """What superset_config.py needs to reach the warehouse (Superset's venv imports no safestats code)."""
    cfg = cfg or settings()
    p = paths(cfg)
    ep = database.endpoint(cfg)
    credentials.load(cfg)   # the audit writer's and nobody's passwords exist before Superset reads them
    runtime = {"db_host": ep.host, "db_port": ep.port, "db_name": ep.dbname, "provisioning_user": PROVISIONING_USER,
               "metadata_uri": os.environ.get("SAFESTATS_SUPERSET_METADATA_URL") or None}
    p.dir.mkdir(parents=True, exist_ok=True)
    p.dir.chmod(0o700)
    (p.dir / "runtime.json").write_text(json.dumps(runtime, indent=2) + "\n")


def _superset(p: Paths, env: dict, *args: str) -> None:
    out = subprocess.run([str(p.venv_bin / "superset"), *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        raise SupersetError(f"`superset {' '.join(args[:2])}` failed: " + " | ".join(tail))


def initialise(cfg: Settings | None = None) -> None:
    """Metadata schema, built-in roles and the provisioning account; repeated only after an upgrade."""
    p = paths(cfg)
    env = environment(cfg)
    version = subprocess.run([str(p.venv_bin / "python"), "-c", "import superset; print(superset.__version__)"],
                             env=env, capture_output=True, text=True).stdout.strip() or "unknown"
    if p.stamp.exists() and p.stamp.read_text().strip() == version:
        return
    _superset(p, env, "db", "upgrade")
    _superset(p, env, "init")
    _superset(p, env, "fab", "create-admin", "--username", PROVISIONING_USER, "--firstname", "SafeStats",
              "--lastname", "Provisioning", "--email", "provisioning@safestats.invalid",
              "--password", admin_password(cfg))
    p.stamp.write_text(version + "\n")


def running_pid(cfg: Settings | None = None) -> int | None:
    pidfile = paths(cfg).pidfile
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def healthy(timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url() + "/health", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def start(cfg: Settings | None = None, workers: int = 2) -> str:
    """Start gunicorn (idempotent) and wait until /health answers; returns the URL."""
    from safestats import warehouse

    cfg = cfg or settings()
    p = paths(cfg)
    if not (p.venv_bin / "gunicorn").exists():
        raise SupersetError(f"Superset is not installed in {p.venv_bin.parent}: run `make superset-install`")
    warehouse.setup(cfg)
    write_runtime(cfg)
    _private_file(p.secret_key, lambda: secrets.token_urlsafe(48))
    env = environment(cfg)
    # superset_config refuses a default key; ask it before gunicorn would fail in the background.
    check = subprocess.run([str(p.venv_bin / "python"), "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]);"
                            " from safestats_superset import runtime; runtime.secret_key()", str(p.config.parent)],
                           env=env, capture_output=True, text=True)
    if check.returncode != 0:
        raise SupersetError(check.stderr.strip().splitlines()[-1])
    initialise(cfg)
    if running_pid(cfg):
        return url()
    if healthy(0.5):
        raise SupersetError(f"something else already answers on {bind()}: set SAFESTATS_SUPERSET_BIND")
    with open(p.logfile, "ab") as log:
        subprocess.Popen(
            [str(p.venv_bin / "gunicorn"), "--bind", bind(), "--workers", str(workers), "-k", "gthread",
             "--threads", "4", "--timeout", "120", "--pid", str(p.pidfile), "--limit-request-line", "0",
             "--limit-request-field_size", "0", "superset.app:create_app()"],
            env=env, cwd=p.dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if healthy():
            return url()
        time.sleep(0.5)
    stop(cfg)
    raise SupersetError(f"Superset did not answer on {url()}/health within {HEALTH_TIMEOUT}s: see {p.logfile}")


def stop(cfg: Settings | None = None) -> bool:
    pid = running_pid(cfg)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if running_pid(cfg) is None:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    paths(cfg).pidfile.unlink(missing_ok=True)
    return True


def status(cfg: Settings | None = None) -> dict:
    pid = running_pid(cfg)
    return {"running": pid is not None, "pid": pid, "url": url(), "healthy": pid is not None and healthy(),
            "home": str(paths(cfg).dir)}
