"""The police marts several test modules read: two synthetic months, built once and rebuilt when another
test has left them without the boroughs the tests look at."""
from __future__ import annotations

from pathlib import Path

import psycopg

from safestats import warehouse

POLICE_BOROUGHS = ("E09000007", "E09000012")     # Camden and Hackney, whose analysts the Superset tests use


def rebuild_marts(cfg, bootstrap, contracts, landing: Path, synthesise) -> None:
    """raw emptied, `synthesise(landing)` loaded into it and built into the marts (dbt build, tests passing)."""
    from safestats import dbt
    from safestats.ingest import ingest_landing

    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
        su.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")
    synthesise(landing)
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        ingest_landing(loader, landing, contracts)
    outcome = dbt.build(cfg)
    assert outcome.success, outcome.failures


def ensure_police_marts(cfg, bootstrap, contracts, landing: Path) -> None:
    """Two synthetic months of police data built into the marts, unless marts already hold street crimes of
    Camden and Hackney (another test may have left them empty or partial); agreements applied."""
    from safestats.policies import service
    from safestats.synth import synthesise_police_uk

    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        built = su.execute("select to_regclass('marts.fct_street_crimes') is not null").fetchone()[0]
        present = built and su.execute("select count(distinct borough_code) from marts.fct_street_crimes"
                                       " where borough_code = any(%s)", (list(POLICE_BOROUGHS),)).fetchone()[0]
    if present != len(POLICE_BOROUGHS):
        rebuild_marts(cfg, bootstrap, contracts, landing,
                      lambda out: synthesise_police_uk("2024-01", "2024-02", out, scale=0.02))
    ensure_lsoa_points(cfg, bootstrap, contracts, landing / "ons")
    service.apply(cfg)


def ensure_lsoa_points(cfg, bootstrap, contracts, landing: Path) -> None:
    """The synthetic ONS lookup and centroids loaded and built into marts.dim_geography (for the hotspot maps),
    unless it already places the LSOAs of Camden and Hackney: only the geography's own models are built."""
    from safestats import dbt
    from safestats.ingest import ingest_landing
    from safestats.synth import ons

    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        placed = su.execute("select count(distinct borough_code) from marts.dim_geography"
                            " where geography_level = 'lsoa' and latitude is not null and borough_code = any(%s)",
                            (list(POLICE_BOROUGHS),)).fetchone()[0]
    if placed == len(POLICE_BOROUGHS):
        return
    ons.synthesise("2024-01", "2024-01", landing)
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        ingest_landing(loader, landing, [c for c in contracts if c.dataset.startswith("ons_")])
    outcome = dbt.run(["build", "--select", "+dim_geography", "--exclude", "resource_type:seed",
                       "--indirect-selection", "cautious"], cfg)
    assert outcome.success, outcome.failures
