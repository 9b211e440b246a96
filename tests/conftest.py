"""One real embedded PostgreSQL for the whole test session, under a temporary SAFESTATS_HOME."""
from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from safestats import database, warehouse
from safestats.config import settings
from safestats.contracts import load_contracts

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"

# Prefect: no analytics, and quiet (its console handler outlives pytest's captured output).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def cfg(tmp_path_factory):
    home = tmp_path_factory.mktemp("safestats-home")
    old = {k: os.environ.get(k) for k in ("SAFESTATS_HOME", "SAFESTATS_DATABASE_URL")}
    os.environ["SAFESTATS_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ.pop("SAFESTATS_DATABASE_URL", None)
    current = settings()
    warehouse.setup(current)
    yield current
    database.stop(current)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def bootstrap(cfg) -> database.Endpoint:
    return database.endpoint(cfg)


@pytest.fixture(scope="session")
def contracts(cfg):
    return load_contracts(cfg.project_dir / "models")


@pytest.fixture
def superuser(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def loader(cfg):
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_raw(superuser, contracts):
    """Start from an empty raw layer (the warehouse's structure stays)."""
    tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
    superuser.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")
    return superuser


@pytest.fixture
def realdata() -> Path:
    if not (REALDATA / "police_uk").is_dir():
        pytest.skip(f"the real public extracts are not here: expected them in {REALDATA} "
                    "(shared/realdata beside the checkout)")
    return REALDATA
