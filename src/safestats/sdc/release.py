"""A monthly release of the agg_ marts: check every candidate month, publish those that pass.

The candidates (schema `disclosure`, rebuilt by dbt every refresh) are attacked together with the release
before them; a month in which the attacker pins down any figure, or whose LAS records fall below the
minimum group size, is held back whole. Passing months are copied into `release.<relation>` in one
transaction, replacing what was published for them; held months keep their previous release, which the
marts go on reading (`marts.agg_*` select from `release`).

A refresh checks only the months it changed: those whose candidate rows differ from what was published for
them (a new month, a revised one, one held before). Every figure the attacker combines lies in one relation and
one month, so a month whose candidates are the rows already published was attacked when they were published.
Only the months the builds recorded as rebuilt in a candidate since the last release (private.changed_months)
and the months that release held back can differ, so only those are compared; the release records how far it
has read (its row in private.built_models, which also keeps the refresh from pruning what it has not read).
`safestats sdc check` checks every month."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

from safestats.sdc import anonymity
from safestats.sdc.attacker import Finding, attack
from safestats.sdc.relations import (
    Relation,
    in_months,
    months_of,
    read_cells,
    relations,
    rule_breaches,
    where_in_months,
)

CANDIDATES = "disclosure"
RELEASED = "release"
# the release's row in private.built_models: the position of the candidates' recorded changes it has read
READER = f"{RELEASED}.releases"


@dataclass
class CandidateChanges:
    """The candidate months recorded as rebuilt since the last release read them, and the months it held."""
    through: int                                  # the position of private.changed_months read up to
    # relation -> its months recorded ('YYYY-MM'; None: every month); None before any release read them: every
    # month of every relation
    recorded: dict[str, set[str] | None] | None
    held: set[str] = field(default_factory=set)

    def months(self, name: str) -> list[str] | None:
        """The months of relation `name` whose candidates may differ from the release (None: every month)."""
        if self.recorded is None or name in self.recorded and self.recorded[name] is None:
            return None
        return sorted((self.recorded.get(name) or set()) | self.held)


@dataclass
class ReleaseCheck:
    relations: list[Relation] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    through: int | None = None        # the candidates' recorded changes read up to (changed months only)
    cells: int = 0
    constraints: int = 0
    findings: list[Finding] = field(default_factory=list)
    breaches: list[tuple[str, str]] = field(default_factory=list)        # (month, what), unshaped relations
    group_sizes: list[anonymity.GroupSize] = field(default_factory=list)  # record-level k-anonymity per month

    def reasons(self) -> dict[str, list[str]]:
        """month -> why it is held (empty when every month may be published)."""
        held: dict[str, list[str]] = {}
        for f in self.findings:
            held.setdefault(f.key.month, []).append(f.text())
        for month, what in self.breaches:
            held.setdefault(month, []).append(what)
        for g in self.group_sizes:
            if not g.ok:
                held.setdefault(g.month, []).append(g.text())
        return dict(sorted(held.items()))

    @property
    def passed(self) -> bool:
        return not self.reasons()

    @property
    def publishable(self) -> list[str]:
        held = self.reasons()
        return [m for m in self.months if m not in held]


def candidate_changes(conn) -> CandidateChanges:
    """What the builds recorded as rebuilt in the candidates since the last release read them (every month
    before any release has), and the months that release held back: they differ from the release until one
    publishes them."""
    read = conn.execute("select through_position from private.built_models where model = %s", (READER,)).fetchone()
    if read is None:
        (through,) = conn.execute("select coalesce(max(position), 0) from private.changed_months").fetchone()
        return CandidateChanges(through, None)
    recorded: dict[str, set[str] | None] = {}
    through = since = read[0]
    for model, month, every, position in conn.execute(
            "select model, to_char(month, 'YYYY-MM'), all_months, position from private.changed_months"
            " where position > %s", (since,)).fetchall():
        through = max(through, position)
        if not model.startswith(CANDIDATES + "."):
            continue
        name = model.split(".", 1)[1]
        if every or month is None:
            recorded[name] = None
        elif recorded.setdefault(name, set()) is not None:
            recorded[name].add(month)
    held = conn.execute(sql.SQL("select months_held from {} order by release_id desc limit 1").format(
        sql.Identifier(RELEASED, "releases"))).fetchone() if _columns(conn, RELEASED, "releases") else None
    return CandidateChanges(through, recorded, set(held[0]) if held else set())


def changed_months(conn, relation: Relation, months: list[str] | None = None) -> list[str]:
    """The candidate months of `relation` (of `months` only, when given) whose rows differ from those published
    for them (every candidate month when the relation was never published, or its shape changed)."""
    candidate, released = sql.Identifier(CANDIDATES, relation.name), sql.Identifier(RELEASED, relation.name)
    if _columns(conn, RELEASED, relation.name) != _columns(conn, CANDIDATES, relation.name):
        return months_of(conn, CANDIDATES, relation)
    if months == []:
        return []
    where, params = where_in_months(months)
    # each month's rows as their number and two sums of 64-bit hashes of their text (order does not matter; a
    # different multiset of rows gives the same three only by a 128-bit coincidence)
    return [r[0] for r in conn.execute(sql.SQL(
        "with candidate as ({digest} from {c} as t{where} group by 1),"
        " released as ({digest} from {r} as t{where} group by 1)"
        " select to_char(incident_month, 'YYYY-MM') from candidate left join released using (incident_month)"
        " where released.rows is distinct from candidate.rows order by 1").format(
        digest=sql.SQL("select incident_month, (count(*), sum(hashtextextended(t::text, 0)),"
                       " sum(hashtextextended(t::text, 1)))::text as rows"),
        c=candidate, r=released, where=where), params * 2).fetchall()]


def check(conn, project_dir: Path, schema: str = CANDIDATES, previous_schema: str | None = RELEASED,
          changed_only: bool = False) -> ReleaseCheck:
    """Attack every agg_ relation of `schema` (against what `previous_schema` published before, if any); with
    `changed_only` (candidates against the release), only the months whose rows changed."""
    result = ReleaseCheck(relations=relations(conn, schema, project_dir))
    months: set[str] = set()
    published = {r.name for r in relations(conn, previous_schema, project_dir)} if previous_schema else set()
    changes = candidate_changes(conn) if changed_only else None
    result.through = changes.through if changes else None
    for relation in result.relations:
        these = (changed_months(conn, relation, changes.months(relation.name)) if changes
                 else months_of(conn, schema, relation))
        months.update(these)
        if not these:
            continue
        if not relation.shaped:
            result.breaches += rule_breaches(conn, schema, relation, these)
            continue
        cells = read_cells(conn, schema, relation, these if changed_only else None)
        candidate_months = sorted({c.key.month for c in cells})
        previous = read_cells(conn, previous_schema, relation, candidate_months) if relation.name in published else []
        outcome = attack(cells, previous)
        result.cells += outcome.cells
        result.constraints += outcome.constraints
        result.findings += outcome.findings
    result.months = sorted(months)
    if schema == CANDIDATES:
        result.group_sizes = anonymity.group_sizes(conn, project_dir, result.months if changed_only else None)
    return result


def publish(conn, checked: ReleaseCheck) -> list[str]:
    """Copy the passing months of every candidate into the release schema, in one transaction; record the
    release. Returns the months published."""
    months = checked.publishable
    with conn.transaction():
        conn.execute(sql.SQL(
            "create table if not exists {} (release_id bigint generated always as identity primary key,"
            " released_at timestamptz not null default now(), months_published text[] not null,"
            " months_held text[] not null, reasons jsonb not null, group_sizes jsonb not null)").format(
            sql.Identifier(RELEASED, "releases")))
        for relation in checked.relations:
            recreated = _replace_months(conn, relation.name, months)
            _record_published_months(conn, relation.name, months, every_month=recreated)
        conn.execute(sql.SQL(
            "insert into {} (months_published, months_held, reasons, group_sizes) values (%s, %s, %s, %s)").format(
            sql.Identifier(RELEASED, "releases")),
            (months, sorted(checked.reasons()), json.dumps(checked.reasons()),
             json.dumps([g.as_dict() for g in checked.group_sizes])))
        if checked.through is not None:
            conn.execute(
                "insert into private.built_models (model, fingerprint, built_at, full_build, through_position)"
                " values (%s, null, now(), false, %s) on conflict (model) do update"
                " set built_at = excluded.built_at, through_position = excluded.through_position",
                (READER, checked.through))
    return months


def _columns(conn, schema: str, name: str) -> list[str] | None:
    return conn.execute(
        "select array_agg(column_name::text order by ordinal_position) from information_schema.columns"
        " where table_schema = %s and table_name = %s", (schema, name)).fetchone()[0]


def _replace_months(conn, name: str, months: list[str]) -> bool:
    """Replace `months` of release.<name> with the candidate's; True when the release table was (re)created."""
    candidate, released = sql.Identifier(CANDIDATES, name), sql.Identifier(RELEASED, name)
    shape = _columns(conn, RELEASED, name)
    if shape is not None and shape != _columns(conn, CANDIDATES, name):
        conn.execute(sql.SQL("drop table {}").format(released))   # the relation changed shape: start again
        shape = None
    if shape is None:
        conn.execute(sql.SQL("create table {} as select * from {} where false").format(released, candidate))
    # the months replaced are found by index, as the candidates' are (a release made before it had none)
    conn.execute(sql.SQL("create index if not exists {} on {} (incident_month)").format(
        sql.Identifier(f"{name}_incident_month"), released))
    condition, params = in_months(months)
    conn.execute(sql.SQL("delete from {} where {}").format(released, condition), params)
    conn.execute(sql.SQL("insert into {} select * from {} where {}").format(released, candidate, condition), params)
    return shape is None


def marts_behind(conn) -> bool:
    """Whether an agg_ mart has not rebuilt a month the release recorded as published (its rebuild did not
    finish): the months a mart was built through are in private.built_models."""
    return conn.execute(
        "select exists (select from private.built_models as built inner join private.changed_months as published"
        f" on published.model = '{RELEASED}.' || split_part(built.model, '.', 2)"
        " where built.model like 'marts.agg%' and published.position > built.through_position)").fetchone()[0]


def _record_published_months(conn, name: str, months: list[str], every_month: bool) -> None:
    """Record the months published in release.<name> (every month when it was recreated) where the marts'
    copy of it reads them (private.changed_months; macros/refresh_by_month.sql, refresh_sources): the agg_
    mart rebuilds those months only."""
    model = f"{RELEASED}.{name}"
    if every_month:
        conn.execute("insert into private.changed_months (model, all_months) values (%s, true)", (model,))
    else:
        conn.execute("insert into private.changed_months (model, month)"
                     " select %s, to_date(m, 'YYYY-MM') from unnest(%s::text[]) as m", (model, months))
