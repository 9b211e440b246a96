"""From agreements to the exact access each organisation gets on each marts relation."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from psycopg import sql

from safestats.policies.agreements import Agreements, Organisation
from safestats.policies.catalogue import MartRelation

MARTS = "marts"
BUILDER_ROLE = "safestats_dbt"   # builds and tests the marts; analysts never connect as it


def builder_policy_name(relation: str) -> str:
    return f"builder__{relation}"[:63]


def builder_policy(relation: str) -> list[sql.Composable]:
    """Row-level security is forced, so it binds the owner too: the builder reads every row by an
    explicit policy of its own (dbt's tests and downstream models need them), never by exemption.
    dbt's post-hook creates the same policy in SQL (private.apply_access_policies)."""
    table, policy = sql.Identifier(MARTS, relation), sql.Identifier(builder_policy_name(relation))
    return [
        sql.SQL("drop policy if exists {} on {}").format(policy, table),
        sql.SQL("create policy {} on {} as permissive for all to {} using (true) with check (true)").format(
            policy, table, sql.Identifier(BUILDER_ROLE)),
        sql.SQL("comment on policy {} on {} is {}").format(policy, table, sql.Literal(BUILDER_FINGERPRINT)),
    ]


BUILDER_FINGERPRINT = "safestats:builder"


@dataclass(frozen=True)
class RelationGrant:
    """One organisation's access to one relation: the columns it may select and the rows it may see."""
    relation: str
    org_role: str
    columns: tuple[str, ...]
    row_codes: tuple[str, ...] | None      # the borough or site codes of the rows it sees; None: all of London
    row_column: str | None                 # the column holding them
    expires_on: date

    @property
    def policy_name(self) -> str:
        return f"dsa_{self.org_role.removeprefix('org_')}__{self.relation}"[:63]

    def predicate(self) -> sql.Composable:
        """Static: the geography and the agreement's expiry are in the predicate itself, no setting is read.
        The date is London's, whatever time zone the session sets (current_date would follow it). The expiry
        is a scalar subquery, so a query evaluates it once (an InitPlan): PostgreSQL does not lift a policy's
        row-independent condition out of the scan as it does a query's own, and evaluated per row it made a
        scan of an aggregate mart about twice as slow as the owner's."""
        expiry = sql.SQL("(select (now() at time zone 'Europe/London')::date <= {}::date)").format(
            sql.Literal(self.expires_on.isoformat()))
        if self.row_codes is None:
            return expiry
        return sql.SQL("{col} = any ({codes}::text[]) and {expiry}").format(
            col=sql.Identifier(self.row_column), codes=sql.Literal(list(self.row_codes)), expiry=expiry)

    def fingerprint(self) -> str:
        """Of the predicate as written, so that an install whose policy says the same in another form is
        brought up to date by `policies apply`, not only when its relation is next rebuilt."""
        text = f"{self.org_role}|{self.predicate().as_string(None)}"
        return "safestats:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _access_to(org: Organisation, rel: MartRelation):
    """(row codes, row column, withheld columns) when the organisation may read the relation, else None."""
    if rel.level == "reference":
        return (None, None, ()) if org.datasets else None
    access = org.datasets.get(rel.dataset)
    if access is None or (rel.level == "record" and access.level != "record"):
        return None  # aggregate-level agreements reach only the dataset's agg_ relations
    scope = access.aggregate_scope if rel.level == "aggregate" else access.scope
    if scope is None:
        return None, None, access.withheld_columns
    column = rel.geography_column if scope.by == "borough" else rel.site_column
    if column is None:
        return None  # rows cannot be restricted to the agreement's area or sites: fail closed
    return scope.codes, column, access.withheld_columns


def _covers(scope, codes: tuple[str, ...] | None, by: str) -> bool:
    """Whether an agreement's rows (scope; None: London) include every row of a grant (codes; None: London)."""
    if scope is None:
        return True
    return codes is not None and scope.by == by and set(codes) <= set(scope.codes)


def may_read_source(org: Organisation, rel: MartRelation, dataset: str, codes, column) -> bool:
    """A column counted from `dataset` is only as exact as the organisation's agreement for that dataset: the
    record-level relation's (exact counts) needs record-level access to it, the aggregate relation's (released
    counts) access at either level, each covering every row the organisation sees of the relation."""
    access = org.datasets.get(dataset)
    if access is None or (rel.level == "record" and access.level != "record"):
        return False
    scope = access.scope if rel.level == "record" else access.aggregate_scope
    by = "site" if column is not None and column == rel.site_column else "borough"
    return _covers(scope, codes, by)


def compile_grants(agreements: Agreements, catalogue: dict[str, MartRelation], today: date) -> list[RelationGrant]:
    grants = []
    for org in sorted(agreements.organisations.values(), key=lambda o: o.slug):
        if not org.has_access(today):
            continue
        for rel in sorted(catalogue.values(), key=lambda r: r.name):
            access = _access_to(org, rel)
            if access is None:
                continue
            codes, column, withheld = access
            columns = tuple(c for c in rel.columns if c not in withheld and (
                rel.source_of(c) is None or may_read_source(org, rel, rel.source_of(c), codes, column)))
            if not columns:
                continue  # every column withheld: no access to the relation at all
            grants.append(RelationGrant(rel.name, org.role, columns, codes, column, org.expires_on))
    return grants


def relation_statements(relation: str, grants: list[RelationGrant]) -> list[sql.Composable]:
    """Everything a freshly (re)built relation needs, in order; run by dbt's post-hook in the rebuild's
    transaction, so the relation is never readable without them."""
    table = sql.Identifier(MARTS, relation)
    out: list[sql.Composable] = [
        sql.SQL("alter table {} enable row level security").format(table),
        sql.SQL("alter table {} force row level security").format(table),
    ]
    for g in grants:
        if g.relation != relation:
            continue
        policy = sql.Identifier(g.policy_name)
        out += [
            sql.SQL("drop policy if exists {} on {}").format(policy, table),
            sql.SQL("create policy {} on {} as permissive for select to {} using ({})").format(
                policy, table, sql.Identifier(g.org_role), g.predicate()),
            sql.SQL("comment on policy {} on {} is {}").format(policy, table, sql.Literal(g.fingerprint())),
            sql.SQL("grant select ({}) on {} to {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in g.columns), table, sql.Identifier(g.org_role)),
        ]
    return out
