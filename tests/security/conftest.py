"""The attack suite's servers: the session's real Superset (tests/conftest.py) and one deliberately weakened
beside it, on the same warehouse and metadata, so every attack is shown to succeed where its control is missing."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from safestats.superset import server

WEAKENED_PORT = int(os.environ.get("SAFESTATS_TEST_WEAKENED_PORT", "8198"))
WEAKENED_CONFIG = Path(__file__).with_name("weakened_superset_config.py")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def weakened(cfg, superset, tmp_path_factory) -> str:
    """Superset without any of SafeStats' controls but identity pass-through (the database still holds)."""
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
