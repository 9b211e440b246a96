"""The semantic layer on the real warehouse: `mf validate-configs`, every metric by month and borough from
MetricFlow against independent SQL over the marts, the same metrics published to Superset (on their marts'
datasets and as virtual datasets of MetricFlow's SQL) answering as `mf query` does, and record-level
metrics reaching only organisations whose agreements allow record level.

Data: fourteen synthetic months of every dataset at a tiny scale (LAS larger, so boroughs reach k), built once
for the module.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest
import requests
import yaml

from safestats import dbt, metricflow, warehouse
from safestats.config import PROJECT_DIR
from safestats.ingest import ingest_landing
from safestats.superset import semantic_metrics
from safestats.synth import generators, synthesise

FIRST_MONTH, LAST_MONTH = "2023-01", "2024-02"      # fourteen months: a year-on-year change has two

# count metric -> (mart, its month column, the count as independent SQL)
COUNTS = {
    "street_crime_count": ("marts.fct_street_crimes", "crime_month", "count(*)"),
    "violence_with_injury_count": (
        "marts.fct_recorded_crimes", "incident_month",
        "count(*) filter (where incident_category_code = 'violence_with_injury')"),
    "knife_crime_count": ("marts.fct_recorded_crimes", "incident_month", "count(*) filter (where is_knife_crime)"),
    "ambulance_violence_dispatch_count": ("marts.fct_ambulance_violence_dispatches", "incident_month", "count(*)"),
    "ed_assault_attendance_count": ("marts.fct_ed_assault_attendances", "incident_month", "count(*)"),
    "deliberate_fire_count": (
        "marts.fct_fire_incidents", "incident_month",
        "count(*) filter (where incident_category_code = 'deliberate_fire')"),
    "asb_incident_count": ("marts.fct_asb_incidents", "incident_month", "count(*)"),
    "transport_crime_count": ("marts.fct_transport_crimes", "incident_month", "count(*)"),
}
RATES = {count: count.removesuffix("_count") + "_rate_per_1000" for count in list(COUNTS)[:6]}


def month_of(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def non_null(answer: metricflow.Answer, metric: str) -> dict[tuple, object]:
    at = answer.columns.index(metric)
    month, borough = answer.columns.index("metric_time__month"), answer.columns.index("borough")
    return {(month_of(r[month]), r[borough]): r[at] for r in answer.rows if r[at] is not None}


@pytest.fixture(scope="module")
def built(cfg, bootstrap, contracts, tmp_path_factory):
    """Every dataset synthesised for fourteen months, loaded and built (data tests are other modules')."""
    landing = tmp_path_factory.mktemp("semantic-landing")
    others = [name for name in generators() if name != "las"]
    synthesise(FIRST_MONTH, LAST_MONTH, landing, only=others, scale=0.004)
    # LAS at a scale where a borough's month holds k records: below it the record-level mart withholds them
    synthesise(FIRST_MONTH, LAST_MONTH, landing, only=["las"], scale=0.1)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
        su.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        ingest_landing(loader, landing, contracts)
    outcome = dbt.run(["build", "--exclude-resource-type", "test"], cfg)
    assert outcome.success, outcome.failures
    tested = dbt.run(["test", "--select", "dim_borough_month_population"], cfg)
    assert tested.success and tested.count("test", "pass") >= 3, tested.failures
    return cfg


@pytest.fixture(scope="module")
def mf(built):
    return metricflow.Session(built)


@pytest.fixture(scope="module")
def layer(built):
    return semantic_metrics.SemanticLayer.load(metricflow.semantic_manifest_path(built))


def independent_counts(superuser, metric: str) -> dict[tuple, int]:
    relation, month, count = COUNTS[metric]
    rows = superuser.execute(f"select {month}, borough_code, {count} from {relation} group by 1, 2").fetchall()
    return {(m, b): n for m, b, n in rows}


def test_mf_validate_configs_passes_against_the_warehouse(built):
    checked = metricflow.validate(built)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in checked.stdout


@pytest.mark.parametrize("metric", list(COUNTS))
def test_every_metric_answers_by_month_and_borough_as_the_marts_say(mf, superuser, metric):
    rate = RATES.get(metric)
    family = [metric, f"{metric}_mom_change", f"{metric}_yoy_change", f"{metric}_rolling_12_months",
              *([rate] if rate else [])]
    answer = mf.query(family, ["metric_time__month", "borough"])
    counts = independent_counts(superuser, metric)
    assert sum(counts.values()) > 0, f"the synthetic data has no {metric}: the comparison would prove nothing"

    assert non_null(answer, metric) == counts

    previous = {k: n - counts[(add_months(k[0], -1), k[1])] for k, n in counts.items()
                if (add_months(k[0], -1), k[1]) in counts}
    assert non_null(answer, f"{metric}_mom_change") == previous
    year_before = {k: n - counts[(add_months(k[0], -12), k[1])] for k, n in counts.items()
                   if (add_months(k[0], -12), k[1]) in counts}
    assert year_before and non_null(answer, f"{metric}_yoy_change") == year_before

    rolling = non_null(answer, f"{metric}_rolling_12_months")
    assert set(counts) <= set(rolling)
    by_borough = defaultdict(dict)
    for (m, b), n in counts.items():
        by_borough[b][m] = n
    for (m, b), total in rolling.items():
        assert total == sum(by_borough[b].get(add_months(m, -k), 0) for k in range(12)), (m, b)

    if rate:
        population = dict(((m, b), p) for m, b, p in superuser.execute(
            "select months.month, population.borough_code, population.population"
            " from (select distinct month_start as month from marts.dim_date) as months"
            " inner join marts.dim_borough_population as population"
            "   on months.month between population.applies_from_month and population.applies_to_month"))
        expected = {k: n * 1000 / population[k] for k, n in counts.items() if k in population}
        rates = {k: v for k, v in non_null(answer, rate).items() if k in counts}
        assert rates.keys() == expected.keys()
        assert all(rates[k] == pytest.approx(expected[k], rel=1e-9) for k in expected)


def test_a_rate_for_london_is_londons_count_over_londons_residents(mf, superuser):
    answer = mf.query(["street_crime_count", "street_crime_rate_per_1000"], ["metric_time__month"])
    counts = dict(superuser.execute("select crime_month, count(*) from marts.fct_street_crimes group by 1"))
    residents = dict(superuser.execute(
        "select population_month, sum(population) from marts.dim_borough_month_population group by 1"))
    got = {month_of(r[0]): r[2] for r in answer.rows if r[1] is not None}
    assert got.keys() == counts.keys()
    assert all(got[m] == pytest.approx(counts[m] * 1000 / float(residents[m]), rel=1e-9) for m in counts)


def test_simple_metrics_translate_to_sql_that_answers_as_metricflow(mf, superuser, layer):
    """The expression a mart's Superset dataset carries gives MetricFlow's number, by month and borough."""
    for metric in COUNTS:
        model = layer.models[layer.home_model(metric)]
        expression = semantic_metrics.metric_expression(layer, metric)
        assert expression, metric
        month = model["defaults"]["agg_time_dimension"]
        rows = superuser.execute(
            f"select {month}, borough_code, {expression} from {layer.relation(model['name'])} group by 1, 2")
        assert {(m, b): n for m, b, n in rows} == non_null(
            mf.query([metric], ["metric_time__month", "borough"]), metric), metric


def test_a_published_metric_answers_a_count_as_bigint_and_a_ratio_as_double_precision(layer):
    """PostgreSQL's sum is numeric, which Superset handles as Decimal objects, one by one: each published metric
    says its type. Counts, their changes and running totals are whole numbers; a rate is a ratio."""
    whole = {name for name in layer.metrics if semantic_metrics.whole_number(layer, name)}
    assert {"street_crime_count", "street_crime_count_rolling_12_months", "street_crime_count_yoy_change",
            "street_crime_count_mom_change", "knife_crime_count"} <= whole
    assert not whole & {"street_crime_rate_per_1000", "residents_thousands"}
    monthly = semantic_metrics.relation_metrics(layer, "marts.fct_street_crimes_monthly")
    published = {m["metric_name"]: m for m in monthly}
    assert published["street_crime_count"]["expression"].startswith("cast(")
    assert published["street_crime_count"]["expression"].endswith(" as bigint)")
    dataset = next(d for d in semantic_metrics.virtual_datasets(layer)
                   if d.name == "metrics_street_crimes_by_borough_month")
    virtual = {m["metric_name"]: m for m in semantic_metrics.dataset_metrics(layer, dataset)}
    assert virtual["street_crime_rate_per_1000"]["expression"].endswith(" as double precision)")
    assert virtual["street_crime_count_rolling_12_months"]["expression"].endswith(" as bigint)")
    assert virtual["street_crime_count_rolling_12_months"]["d3format"] == ",d"


def test_the_same_metric_names_attach_to_an_aggregate_relation_from_a_mapping(layer):
    mapping = {"marts.agg_street_crimes_monthly": {"street_crime_count": "sum(street_crime_count)"}}
    [published] = semantic_metrics.aggregate_metrics(layer, "marts.agg_street_crimes_monthly", mapping)
    assert published["metric_name"] == "street_crime_count"
    assert published["verbose_name"] == layer.metrics["street_crime_count"]["label"]
    assert semantic_metrics.aggregate_metrics(layer, "marts.fct_street_crimes", mapping) == []
    with pytest.raises(ValueError, match="knife_crimes_total"):
        semantic_metrics.aggregate_metrics(layer, "marts.agg_x", {"marts.agg_x": {"knife_crimes_total": "1"}})


# ---------------------------------------------------------------------------------------------------------
# Published to Superset
# ---------------------------------------------------------------------------------------------------------

def analyst_session(base: str, username: str, password: str) -> requests.Session:
    from test_superset import login

    return login(base, username, password)


@pytest.fixture(scope="module")
def published(built, superset, cfg):
    from test_superset import dataset_ids, jwt

    from safestats import credentials
    from safestats.superset import server

    admin = jwt(superset["url"], server.PROVISIONING_USER, server.admin_password(cfg))
    ids = dataset_ids(requests.Session(), superset["url"], headers=admin)
    return {"base": superset["url"], "ids": ids, "admin": admin, "passwords": credentials.user_passwords(cfg),
            "sync": superset["sync"]}


def chart_rows(s: requests.Session, base: str, dataset_id: int, metrics: list[str], columns: list[str]):
    resp = s.post(f"{base}/api/v1/chart/data", json={
        "datasource": {"id": dataset_id, "type": "table"},
        "queries": [{"metrics": metrics, "columns": columns, "filters": [], "row_limit": 10000}],
        "result_format": "json", "result_type": "full"})
    return resp


def test_datasets_carry_the_semantic_metrics_and_the_compiled_ones_are_virtual(published):
    base, admin, ids = published["base"], published["admin"], published["ids"]
    detail = requests.get(f"{base}/api/v1/dataset/{ids['marts.fct_recorded_crimes']}", headers=admin).json()
    metrics = {m["metric_name"]: m["expression"] for m in detail["result"]["metrics"]}
    assert metrics["knife_crime_count"] == "cast(sum(case when is_knife_crime then 1 else 0 end) as bigint)"
    virtual = requests.get(f"{base}/api/v1/dataset/{ids['marts.metrics_street_crimes_by_month']}",
                           headers=admin).json()["result"]
    assert "dim_date" in virtual["sql"] and "fct_street_crimes_monthly" in virtual["sql"]
    # the one the dashboards read is materialised under its own name (models/marts/metrics/)
    materialised = requests.get(f"{base}/api/v1/dataset/{ids['marts.metrics_street_crimes_by_borough_month']}",
                                headers=admin).json()["result"]
    assert "from marts.metrics_street_crimes_by_borough_month" in materialised["sql"]
    assert "dim_date" not in materialised["sql"]
    for dataset in (virtual, materialised):
        assert {"street_crime_rate_per_1000", "street_crime_count_rolling_12_months",
                "street_crime_count_yoy_change"} <= {m["metric_name"] for m in dataset["metrics"]}


@pytest.mark.parametrize("username", ["met_analyst", "camden_analyst"])
def test_superset_metrics_answer_as_mf_query_for_what_the_analyst_may_see(published, mf, cfg, username):
    """Superset runs the published SQL as the analyst; mf runs as the dbt role: for the boroughs the analyst
    sees, the numbers are the same."""
    from test_superset import sql_as

    base, ids = published["base"], published["ids"]
    s = analyst_session(base, username, published["passwords"][username])
    seen = {b for (b,) in sql_as(cfg, username, "select distinct borough_code from marts.fct_street_crimes")}
    assert seen

    names = ["street_crime_count", "street_crime_rate_per_1000", "street_crime_count_rolling_12_months",
             "street_crime_count_mom_change"]
    resp = chart_rows(s, base, ids["marts.metrics_street_crimes_by_borough_month"], names,
                      ["metric_time__month", "borough"])
    assert resp.status_code == 200, resp.text
    answer = mf.query(names, ["metric_time__month", "borough"])
    for name in names:
        expected = {(m, b): v for (m, b), v in non_null(answer, name).items() if b in seen}
        got = {(month_of(datetime.fromtimestamp(r["metric_time__month"] / 1000).date()), r["borough"]): r[name]
               for r in resp.json()["result"][0]["data"] if r[name] is not None}
        assert got.keys() == {k for k in expected if k[0] in {m for m, _ in got}} and got, name
        assert all(got[k] == pytest.approx(expected[k], rel=1e-9) for k in got), name

    # the simple metric on its monthly summary's dataset, for the analyst's boroughs and months
    resp = chart_rows(s, base, ids["marts.fct_street_crimes_monthly"], ["street_crime_count"], ["borough_code"])
    assert resp.status_code == 200, resp.text
    got = {r["borough_code"]: r["street_crime_count"] for r in resp.json()["result"][0]["data"]}
    totals = defaultdict(int)
    for (_, b), n in non_null(mf.query(["street_crime_count"], ["metric_time__month", "borough"]),
                              "street_crime_count").items():
        totals[b] += n
    assert got == {b: totals[b] for b in seen}


def refusal(text: str) -> bool:
    """PostgreSQL's refusal, or Superset's where the organisation is not even given the dataset."""
    return "permission denied" in text.lower() or "agreement does not give you" in text.lower()


def test_record_level_metrics_reach_only_organisations_allowed_record_level(published):
    """The Met holds MPS recorded crime at record level and fire incidents at aggregate level only; Camden
    the other way round: each gets the metric its agreement allows, and an error for the other."""
    base, ids, passwords = published["base"], published["ids"], published["passwords"]
    allowed = {"met_analyst": ("knife_crime_count", "marts.fct_recorded_crimes",
                               "deliberate_fire_count", "marts.fct_fire_incidents"),
               "camden_analyst": ("deliberate_fire_count", "marts.fct_fire_incidents",
                                  "knife_crime_count", "marts.fct_recorded_crimes")}
    for username, (ok_metric, ok_mart, refused_metric, refused_mart) in allowed.items():
        s = analyst_session(base, username, passwords[username])
        ok = chart_rows(s, base, ids[ok_mart], [ok_metric], [])
        assert ok.status_code == 200 and ok.json()["result"][0]["data"][0][ok_metric] is not None, (username, ok.text)
        refused = chart_rows(s, base, ids[refused_mart], [refused_metric], [])
        assert refused.status_code != 200 or refused.json()["result"][0].get("error"), (username, refused.text)
        assert refusal(refused.text), refused.text[:300]
        virtual = refused_mart.replace("marts.fct_", "marts.metrics_") + "_by_month"
        refused = chart_rows(s, base, ids[virtual], [refused_metric], [])
        assert refusal(refused.text), (username, virtual, refused.text[:300])


def test_the_overview_dashboard_charts_use_published_metrics(published, layer):
    spec = yaml.safe_load((PROJECT_DIR / "superset/assets/dashboards/community_safety_overview.yml").read_text())
    assert any(title.startswith(spec["title"] + ": ") for title in published["sync"].dashboards)
    used = set()
    for row in spec["rows"]:
        for chart in row:
            params = chart.get("params") or {}
            metrics = list(params.get("metrics") or []) + ([params["metric"]] if "metric" in params else [])
            # a released aggregate's own cells (London's, say) may be read as written: they are the release
            released = chart["dataset"].startswith("marts.agg_")
            used |= {m for m in metrics if isinstance(m, str)}
            assert released or all(isinstance(m, str) for m in metrics), chart["title"]
    assert used and used <= set(layer.metrics), used - set(layer.metrics)


def test_each_materialised_metrics_table_is_metricflows_answer_row_for_row(built, mf, layer, superuser):
    """models/marts/metrics/: each table the dashboards read instead of MetricFlow's compiled SQL carries the
    virtual dataset's columns, and holds MetricFlow's answer for every month with data, row for row."""
    from safestats.superset import sync

    materialised = sorted(sync.materialised_metrics(PROJECT_DIR))
    datasets = {d.name: d for d in semantic_metrics.virtual_datasets(layer)}
    assert materialised and set(materialised) <= set(datasets), materialised
    for name in materialised:
        dataset = datasets[name]
        columns = [*dataset.group_by, *dataset.metrics]
        held = [r[0] for r in superuser.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s"
            " order by ordinal_position", (name,))]
        assert sorted(held) == sorted(columns), name
        listed = ", ".join(columns)
        answer = superuser.execute(
            f"select {listed} from ({mf.compile(dataset.metrics, dataset.group_by)}) as answered").fetchall()
        with_data = {r[0] for r in answer if any(r[columns.index(c)] is not None for c in dataset.counts)}
        # the table's month has no time zone (MetricFlow's has the session's): the same month either way
        expected = {(month_of(r[0]), r[1]): (month_of(r[0]), *r[1:]) for r in answer if r[0] in with_data}
        got = {(month_of(r[0]), r[1]): (month_of(r[0]), *r[1:])
               for r in superuser.execute(f"select {listed} from marts.{name}")}
        assert got.keys() == expected.keys(), (name, sorted(got.keys() ^ expected.keys())[:5])
        for key, row in expected.items():
            for column, want, have in zip(columns, row, got[key]):
                same = (want == pytest.approx(have, rel=1e-9) if isinstance(want, (int, float, Decimal))
                        and have is not None else want == have)
                assert same, (name, key, column, want, have)
        empty = [c for i, c in enumerate(columns) if all(r[i] is None for r in got.values())]
        assert not empty, (name, "no value to compare", empty)
