"""The monthly refresh: ingest every new extract, rebuild the warehouse with dbt, release the disclosure-
controlled aggregates that pass the attacker's check, make the outputs partners receive, empty Superset's cache
of chart results, summarise; every run leaves a machine-readable record ($SAFESTATS_HOME/runs/last.json).

Thin by design: each task calls the safestats package. Reruns are safe: files already loaded are
skipped by checksum, and the warehouse rebuilds the loads that changed since it was built (all of it when
the project changed, or with full=True). Scheduled for 02:00 on the 2nd of each month,
London time, after the forces publish the previous month."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from safestats import dbt, refresh, run_record, scheduler, warehouse
from safestats.config import settings
from safestats.outputs import build as outputs
from safestats.sdc import service as sdc
from safestats.summary import summary_text
from safestats.superset import server as superset

# prefect.yaml holds the one definition (the server's deployment is registered from it).
SCHEDULE = scheduler.declared_schedule(Path(__file__).resolve().parents[1] / "prefect.yaml")


class RefreshFailed(RuntimeError):
    def __init__(self, summary: refresh.RefreshSummary):
        super().__init__("the warehouse build failed: " + "; ".join(summary.build.failures[:5]))
        self.summary = summary


@task(retries=2, retry_delay_seconds=10)
def prepare_warehouse() -> None:
    warehouse.setup()


@task(retries=2, retry_delay_seconds=10)
def ingest_landing(landing: str, retry_quarantined: bool) -> list:
    results = refresh.ingest(Path(landing), retry_quarantined=retry_quarantined)
    log = get_run_logger()
    for r in results:
        if r.status == "quarantined":
            log.warning("quarantined: %s", r.message)
    return results


@task(retries=1, retry_delay_seconds=10)
def build_warehouse(full: bool) -> dbt.DbtOutcome:
    return refresh.build(full=full)


@task
def release_aggregates(build: dbt.DbtOutcome) -> sdc.ReleaseOutcome | None:
    """Attack this refresh's aggregates; publish the months that pass (held months keep their last release)."""
    if not build.success:
        return None   # nothing new to release: the previous release stays as it is
    outcome = sdc.publish()
    log = get_run_logger()
    for month, reasons in outcome.checked.reasons().items():
        log.warning("aggregates of %s held back: %s", month, "; ".join(reasons[:5]))
    return outcome


@task
def publish_outputs(files: list, build: dbt.DbtOutcome, released) -> outputs.OutputsOutcome | None:
    """The trend reports, core dataset, hospital reports and supplier feedback this refresh's data changed."""
    if not build.success or (released is not None and not released.ok):
        return None     # the outputs already made stay as they are
    made = outputs.for_refresh(files)
    log = get_run_logger()
    log.info("outputs: %d files made, %d sets unchanged", len(made.written), len(made.unchanged))
    for failure in made.failures:
        log.error("output not made: %s", failure)
    return made


@task
def clear_chart_cache(build: dbt.DbtOutcome) -> int:
    """Dashboards answer from this refresh at once, not from results cached before it (for up to an hour)."""
    if not build.success:
        return 0    # the warehouse kept its tables: the cached numbers still hold
    removed = superset.clear_data_cache()
    get_run_logger().info("Superset's chart cache emptied (%d entries)", removed)
    return removed


@task
def summarise(files: list, build: dbt.DbtOutcome, released, made) -> refresh.RefreshSummary:
    summary = refresh.RefreshSummary(files=files, build=build, exclusions=refresh.exclusions(), release=released,
                                     outputs=made)
    get_run_logger().info("refresh summary\n%s", summary_text(summary))
    return summary


@flow(name="monthly-refresh", log_prints=True)
def monthly_refresh(landing: str | None = None, retry_quarantined: bool = False,
                    full: bool = False) -> refresh.RefreshSummary:
    landing = landing or str(settings().landing_dir)
    if not Path(landing).is_dir():  # not worth a retry
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    run = run_record.Run(flow_run_id=flow_run.get_id())
    so_far = refresh.RefreshSummary()      # what the run record shows of a run that fails on the way
    try:
        summary = _refresh(landing, retry_quarantined, full, so_far)
    except RefreshFailed as exc:
        run.finish(exc.summary, error=str(exc))
        raise
    except BaseException as exc:
        run.finish(so_far, error=f"{type(exc).__name__}: {exc}")
        raise
    run.finish(summary)
    return summary


def _refresh(landing: str, retry_quarantined: bool, full: bool,
             so_far: refresh.RefreshSummary) -> refresh.RefreshSummary:
    prepare_warehouse()
    files = so_far.files = ingest_landing(landing, retry_quarantined)
    build = so_far.build = build_warehouse(full)
    released = so_far.release = release_aggregates(build)
    made = so_far.outputs = publish_outputs(files, build, released)
    clear_chart_cache(build)
    summary = summarise(files, build, released, made)
    if not summary.ok:
        raise RefreshFailed(summary)
    return summary


def deployment():
    """The scheduled deployment (`python flows/monthly_refresh.py` serves it against a Prefect API)."""
    return monthly_refresh.to_deployment(name="monthly-refresh", schedule=SCHEDULE)


if __name__ == "__main__":
    from prefect import serve

    serve(deployment())
