"""The refresh summary as tables: files, rows per dataset, rows kept out of the London marts, dbt."""
from __future__ import annotations

from io import StringIO

from rich.console import Console, Group
from rich.table import Table

from safestats.refresh import RefreshSummary
from safestats.sdc import anonymity


def summary_tables(summary: RefreshSummary) -> Group:
    counts = summary.file_counts()
    files = Table(title="Files", show_header=True)
    for col in ("loaded", "skipped", "quarantined"):
        files.add_column(col, justify="right")
    files.add_row(*(str(counts.get(c, 0)) for c in ("loaded", "skipped", "quarantined")))

    rows = Table(title="Rows this refresh", show_header=True)
    rows.add_column("dataset")
    rows.add_column("loaded", justify="right")
    rows.add_column("rejected", justify="right")
    for dataset, (loaded, rejected) in sorted(summary.rows_by_dataset().items()):
        rows.add_row(dataset, f"{loaded:,}", f"{rejected:,}")

    parts = [files, rows]
    quarantined = [f for f in summary.files if f.status == "quarantined"]
    if quarantined:
        q = Table(title="Quarantined files", show_header=True)
        q.add_column("file")
        q.add_column("why")
        for f in quarantined:
            q.add_row(str(f.path), f.message)
        parts.append(q)
    if summary.exclusions:
        ex = Table(title="Rows kept out of the London marts (all loads)", show_header=True)
        ex.add_column("dataset")
        ex.add_column("reason")
        ex.add_column("rows", justify="right")
        for dataset, reason, n in summary.exclusions:
            ex.add_row(dataset, reason, f"{n:,}")
        parts.append(ex)
    if summary.build is not None:
        b = summary.build
        d = Table(title="dbt build" + ("" if b.success else " FAILED"), show_header=True)
        for col in ("seeds", "models", "snapshots", "tests passed", "tests warned", "tests failed", "errors"):
            d.add_column(col, justify="right")
        d.add_row(str(b.count("seed", "success")), str(b.count("model", "success")),
                  str(b.count("snapshot", "success")), str(b.count("test", "pass")),
                  str(b.count("test", "warn")), str(b.count("test", "fail")),
                  str(sum(n for (_, s), n in b.counts.items() if s in ("error", "runtime error"))))
        parts.append(d)
        if b.failures:
            f = Table(title="dbt failures", show_header=False)
            f.add_column("failure")
            for failure in b.failures[:20]:
                f.add_row(failure)
            parts.append(f)
    if summary.release is not None:
        parts += release_tables(summary.release.checked, summary.release.published)
    if summary.outputs is not None:
        parts.append(outputs_table(summary.outputs))
    return Group(*parts)


def outputs_table(made) -> Table:
    """The outputs made (safestats.outputs.build.OutputsOutcome): files per kind, and any set not made."""
    t = Table(title="Outputs" + ("" if made.ok else " (some NOT made)"), show_header=True)
    t.add_column("output")
    t.add_column("files", justify="right")
    kinds: dict[str, int] = {}
    for o in made.written:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    for kind, n in sorted(kinds.items()):
        t.add_row(kind, str(n))
    if made.unchanged:
        t.add_row(f"unchanged since last made: {len(made.unchanged)} set(s)", "")
    for failure in made.failures:
        t.add_row(f"[red]not made[/] {failure}", "")
    return t


def release_tables(checked, published: list[str] | None) -> list[Table]:
    """What the attacker checked, each month's fate and why, and the LAS records' smallest group."""
    held = checked.reasons()
    head = Table(title="Disclosure control (safestats sdc check)", show_header=True)
    for col in ("relations", "figures", "sums", "months", "held"):
        head.add_column(col, justify="right")
    head.add_row(str(len(checked.relations)), f"{checked.cells:,}", f"{checked.constraints:,}",
                 str(len(checked.months)), str(len(held)))
    months = Table(title="Aggregates by month checked (a refresh: the months whose candidates changed)",
                   show_header=True)
    months.add_column("month")
    months.add_column("release")
    months.add_column("why held (first reasons)")
    for month in checked.months:
        if month in held:
            months.add_row(month, "held: previous release stays", "; ".join(held[month][:3]))
        else:
            months.add_row(month, "published" if published is not None else "passes", "")
    parts = [head, months]
    if checked.group_sizes:
        k = Table(title="Record-level marts: smallest group sharing every quasi-identifier (k); records per"
                        " generalisation level and withheld (a borough and month below k)", show_header=True)
        for col in ("relation", "month", "k", "minimum", *(f"L{i}" for i in range(anonymity.MAX_LEVELS)),
                    "withheld"):
            k.add_column(col, justify="right")
        for g in checked.group_sizes:
            k.add_row(g.relation, g.month, str(g.smallest_group_size),
                      "-" if g.min_group_size is None else str(g.min_group_size),
                      *(f"{n:,}" for n in g.records_by_level),
                      *([""] * (anonymity.MAX_LEVELS - len(g.records_by_level))), f"{g.records_withheld:,}")
        parts.append(k)
    return parts


def summary_text(summary: RefreshSummary) -> str:
    buffer = StringIO()
    Console(file=buffer, width=120, color_system=None).print(summary_tables(summary))
    return buffer.getvalue()
