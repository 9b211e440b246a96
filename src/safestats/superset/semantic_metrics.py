"""The semantic layer's metrics as Superset datasets carry them, derived from dbt's semantic manifest.

Simple metrics (and ratios of two simple metrics over one mart) translate mechanically into a SQL
expression over their mart, so that mart's dataset carries them under the same name. Metrics only
MetricFlow can compute (cumulative, offset, and ratios across marts such as rates per 1,000 residents)
are published as virtual datasets whose SQL is MetricFlow's own compiled query, one per semantic model
by borough and month and one by month for London. Either way the SQL runs as the analyst's own login,
so row-level security decides which rows a metric counts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# MetricFlow aggregations and the SQL a Superset metric spells them with (percentile etc. are not used).
AGGREGATIONS = {
    "sum": "sum({expr})",
    "count": "count({expr})",
    "count_distinct": "count(distinct {expr})",
    "min": "min({expr})",
    "max": "max({expr})",
    "average": "avg({expr})",
    "sum_boolean": "sum(case when {expr} then 1 else 0 end)",
}
# What every virtual dataset is grouped by: the month and the borough (code, name, map code).
BOROUGH_MONTH = ["metric_time__month", "borough", "borough__borough_name", "borough__iso_3166_2_code"]
LONDON_MONTH = ["metric_time__month"]


@dataclass
class SemanticLayer:
    """The parts of target/semantic_manifest.json that publishing needs."""
    models: dict[str, dict]                      # semantic model name -> model
    measures: dict[str, tuple[str, dict]]        # measure name -> (semantic model name, measure)
    metrics: dict[str, dict]                     # metric name -> metric

    @classmethod
    def load(cls, path: Path) -> SemanticLayer:
        manifest = json.loads(path.read_text())
        models = {m["name"]: m for m in manifest["semantic_models"]}
        measures = {ms["name"]: (m["name"], ms) for m in manifest["semantic_models"] for ms in m["measures"]}
        return cls(models, measures, {m["name"]: m for m in manifest["metrics"]})

    def relation(self, model: str) -> str:
        node = self.models[model]["node_relation"]
        return f"{node['schema_name']}.{node['alias']}"

    def input_models(self, metric: str) -> set[str]:
        return {self.measures[m["name"]][0] for m in self._input_measures(metric)}

    def _input_measures(self, metric: str) -> list[dict]:
        return self.metrics[metric]["type_params"]["input_measures"]

    def home_model(self, metric: str) -> str:
        """The semantic model a metric belongs to: that of its first input measure (the numerator's)."""
        return self.measures[self._input_measures(metric)[0]["name"]][0]


def measure_sql(measure: dict) -> str:
    expr = measure.get("expr") or measure["name"]
    return AGGREGATIONS[measure["agg"]].format(expr=expr)


def metric_expression(layer: SemanticLayer, name: str) -> str | None:
    """The SQL expression of a metric over its own mart, or None when only MetricFlow can compute it."""
    metric = layer.metrics[name]
    params = metric["type_params"]
    if metric.get("filter"):
        return None
    if metric["type"] == "simple":
        ref = params["measure"]
        if ref.get("filter") or ref.get("join_to_timespine") or ref.get("fill_nulls_with") is not None:
            return None
        return measure_sql(layer.measures[ref["name"]][1])
    if metric["type"] == "ratio" and len(layer.input_models(name)) == 1:
        if params["numerator"].get("filter") or params["denominator"].get("filter"):
            return None
        numerator = metric_expression(layer, params["numerator"]["name"])
        denominator = metric_expression(layer, params["denominator"]["name"])
        if numerator and denominator:
            return f"1.0 * {numerator} / nullif({denominator}, 0)"
    return None


def whole_number(layer: SemanticLayer, name: str) -> bool:
    """A count, or a running total or a difference of counts: a metric whose values are whole numbers."""
    metric = layer.metrics[name]
    params = metric["type_params"]
    if metric["type"] == "simple":
        return name.endswith("_count")
    if metric["type"] == "cumulative":
        measure = params["measure"]["name"]
        return any(whole_number(layer, other) for other, simple in layer.metrics.items()
                   if simple["type"] == "simple" and simple["type_params"]["measure"]["name"] == measure)
    if metric["type"] == "derived":
        return (not set(params.get("expr") or "") & set("*/")
                and all(whole_number(layer, m["name"]) for m in params.get("metrics") or []))
    return False


def superset_metric(layer: SemanticLayer, name: str, expression: str) -> dict:
    """A Superset metric whose SQL answers a whole number as bigint and a ratio as double precision. PostgreSQL's
    sum of a bigint or numeric, and a ratio of sums, is numeric, which Superset reads as Decimal objects and
    aggregates one value at a time in its pivot; a number column it aggregates in one pass
    (superset/safestats_superset/postprocessing.py)."""
    metric = layer.metrics[name]
    whole = whole_number(layer, name)
    if whole:
        expression = f"cast({expression} as bigint)"
    elif metric["type"] == "ratio":
        expression = f"cast({expression} as double precision)"
    return {"metric_name": name, "verbose_name": metric.get("label") or name, "expression": expression,
            "metric_type": None, "description": " ".join((metric.get("description") or "").split()) or None,
            "d3format": ",d" if whole else ",.2f"}


def relation_metrics(layer: SemanticLayer, relation: str) -> list[dict]:
    """The semantic layer's metrics that a physical relation's dataset carries, as Superset metrics."""
    found = []
    for name in sorted(layer.metrics):
        if layer.relation(layer.home_model(name)) != relation:
            continue
        expression = metric_expression(layer, name)
        if expression:
            found.append(superset_metric(layer, name, expression))
    return found


def aggregate_metrics(layer: SemanticLayer, relation: str, mapping: dict[str, dict[str, str]]) -> list[dict]:
    """The same metric names over a disclosure-controlled aggregate relation, from a small mapping
    (relation -> metric name -> SQL over that relation's released columns): the definition, label and
    description stay the semantic layer's; only the expression is the aggregate's."""
    found = []
    for name, expression in sorted((mapping.get(relation) or {}).items()):
        if name not in layer.metrics:
            raise ValueError(f"{relation}: {name!r} is not a metric of the semantic layer")
        found.append(superset_metric(layer, name, expression))
    return found


def load_aggregate_mapping(path: Path) -> dict[str, dict[str, str]]:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


@dataclass
class VirtualDataset:
    """A Superset dataset over MetricFlow's compiled SQL for some metrics of one semantic model."""
    name: str
    description: str
    metrics: list[str]
    group_by: list[str]
    counts: list[str]                        # simple count metrics: months without any are left out
    sql: str = ""
    superset_metrics: list[dict] = field(default_factory=list)


def compiled_metrics(layer: SemanticLayer, model: str) -> list[str]:
    """A semantic model's metrics that need MetricFlow, with the simple metrics they are built on."""
    own = [name for name in sorted(layer.metrics) if layer.home_model(name) == model]
    needed = [name for name in own if metric_expression(layer, name) is None]
    if not needed:
        return []
    ratio_inputs = [layer.metrics[n]["type_params"][side]["name"] for n in needed
                    if layer.metrics[n]["type"] == "ratio" for side in ("numerator", "denominator")]
    simple = [n for n in own if layer.metrics[n]["type"] == "simple"]
    return list(dict.fromkeys([*simple, *ratio_inputs, *needed]))


def virtual_datasets(layer: SemanticLayer) -> list[VirtualDataset]:
    """One dataset by borough and month and one by month (London) for each semantic model with metrics
    MetricFlow must compile; SQL is filled in by `compile_datasets`."""
    made = []
    for model in sorted(layer.models):
        metrics = compiled_metrics(layer, model)
        if not metrics:
            continue
        counts = [n for n in metrics if layer.metrics[n]["type"] == "simple" and layer.home_model(n) == model]
        for suffix, group_by, where in (("by_borough_month", BOROUGH_MONTH, "by borough and month"),
                                        ("by_month", LONDON_MONTH, "by month for London")):
            made.append(VirtualDataset(
                name=f"metrics_{model}_{suffix}",
                description=f"The semantic layer's {model.replace('_', ' ')} metrics {where}, as MetricFlow "
                            f"computes them (rolling, change and rate metrics). Each row is one "
                            f"{'borough and month' if suffix == 'by_borough_month' else 'month'}.",
                metrics=metrics, group_by=group_by, counts=counts))
    return made


def months_with_data(sql: str, counts: list[str]) -> str:
    """MetricFlow answers every month of the time spine and the population; keep the months the mart
    has data for (borough rows without events stay, so their residents still count in London's rate), each
    with `months_of_history`: how many months with data the viewer's rows hold up to it (a rolling 12-month
    total is complete from the 12th, a change on a year before exists from the 13th)."""
    has_data = " or ".join(f"{c} is not null" for c in counts)
    return (f"with answered as (\n{sql}\n),\nmonths as (\n"
            f"select metric_time__month from answered where {has_data} group by metric_time__month\n)\n"
            "select answered.*, (select count(*) from months"
            " where months.metric_time__month <= answered.metric_time__month) as months_of_history\n"
            "from answered\nwhere answered.metric_time__month in (select metric_time__month from months)")


def dataset_metrics(layer: SemanticLayer, dataset: VirtualDataset) -> list[dict]:
    """Superset metrics over a virtual dataset's columns: at the dataset's own grain each is exactly
    MetricFlow's value; ratios stay exact summed over boroughs, the rest are summed."""
    found = []
    for name in dataset.metrics:
        metric = layer.metrics[name]
        if metric["type"] == "ratio":
            params = metric["type_params"]
            expression = (f"1.0 * sum({params['numerator']['name']})"
                          f" / nullif(sum({params['denominator']['name']}), 0)")
        else:
            expression = f"sum({name})"
        found.append(superset_metric(layer, name, expression))
    return found


def compile_datasets(layer: SemanticLayer, session, materialised: frozenset[str] = frozenset()) -> list[VirtualDataset]:
    """Every virtual dataset with its SQL: over the warehouse's table of the same name where one is
    `materialised` (models/marts/metrics/), else MetricFlow's compiled SQL (`session`: a
    safestats.metricflow.Session)."""
    datasets = virtual_datasets(layer)
    for dataset in datasets:
        answered = (f"select * from marts.{dataset.name}" if dataset.name in materialised
                    else session.compile(dataset.metrics, dataset.group_by))
        dataset.sql = months_with_data(answered, dataset.counts)
        dataset.superset_metrics = dataset_metrics(layer, dataset)
    return datasets
