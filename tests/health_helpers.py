"""What the health dataset tests share: a fresh raw layer, a selective dbt build, and a scan of every cell
past the privacy boundary for values that must never get there."""
from __future__ import annotations

import psycopg
from psycopg import sql

from safestats import dbt

SCANNED_SCHEMAS = ("suppressed", "marts")

# The health models and everything upstream of them; data tests only when all their parents are built
# (the police marts may not be built in this session yet).
HEALTH_SELECTION = [
    "+fct_ambulance_violence_dispatches", "+las_violence_dispatches_exclusions", "+fct_ed_assault_attendances",
    "+fct_ed_site_submissions", "+istv_assault_attendances_exclusions", "+dim_hospital_site",
    "rows_reach_the_mart_or_are_counted_fct_ambulance_violence_dispatches",
    "rows_reach_the_mart_or_are_counted_fct_ed_assault_attendances", "test_name:loads_account_for_every_row",
]


def empty_raw(conn: psycopg.Connection, contracts) -> None:
    tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
    conn.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")


def build_health(cfg) -> dbt.DbtOutcome:
    outcome = dbt.run(["build", "--select", *HEALTH_SELECTION, "--indirect-selection", "cautious"], cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0, outcome.failures
    assert outcome.count("test", "pass") > 50  # the YAML data tests ran
    return outcome


def scanned_columns(conn: psycopg.Connection) -> list[tuple[str, str, str, str]]:
    """(schema, table, column, data type) of every column of every table and view past the boundary."""
    return conn.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_schema = any(%s) order by 1, 2, ordinal_position", (list(SCANNED_SCHEMAS),)).fetchall()


def area_points() -> set[tuple[str, str]]:
    """(relation, column) of every column the dbt YAML marks `meta: {area_point: true}`: an area's published
    reference point (an LSOA centroid) to 3 decimals, which the point-location scan holds to that precision."""
    import yaml

    from safestats.config import PROJECT_DIR

    found = set()
    for path in (PROJECT_DIR / "models").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            for column in model.get("columns") or []:
                if (column.get("meta") or {}).get("area_point"):
                    found.add((model["name"], column["name"]))
    return found


def cells_matching(conn: psycopg.Connection, texts: list[str], *, numbers: list | None = None,
                   contains: str | None = None) -> list[tuple[str, str, str, int]]:
    """Every (schema, table, column, count) past the boundary where some cell, as text, equals one of
    `texts`, or contains `contains`, or (numeric columns) equals one of `numbers`."""
    conn.execute("create temporary table if not exists scan_texts (value text primary key)")
    conn.execute("create temporary table if not exists scan_numbers (value numeric primary key)")
    conn.execute("truncate scan_texts, scan_numbers")
    with conn.cursor().copy("copy scan_texts (value) from stdin") as copy:
        for value in set(texts):
            copy.write_row((value,))
    with conn.cursor().copy("copy scan_numbers (value) from stdin") as copy:
        for value in set(float(n) for n in numbers or ()):
            copy.write_row((repr(value),))
    found = []
    for schema, table, column, data_type in scanned_columns(conn):
        col = sql.Identifier(column)
        terms = [sql.SQL("{}::text in (select value from scan_texts)").format(col)]
        if contains:
            terms.append(sql.SQL("strpos({}::text, %(contains)s) > 0").format(col))
        if numbers and data_type in ("numeric", "double precision", "real"):
            terms.append(sql.SQL("{}::numeric in (select value from scan_numbers)").format(col))
        query = sql.SQL("select count(*) from {} where {}").format(
            sql.Identifier(schema, table), sql.SQL(" or ").join(terms))
        n = conn.execute(query, {"contains": contains}).fetchone()[0]
        if n:
            found.append((schema, table, column, n))
    return found
