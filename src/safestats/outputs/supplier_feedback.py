"""Feedback to suppliers: what became of each file they sent. For every load, a rejects report (one row per
problem of every rejected row: the row number, the column by the header label the supplier's file uses, the
problem and the value as it arrived) so the supplier can find and correct the row; and per agency a summary of
this refresh's loads (rows read, loaded and rejected, the commonest problems, why a file was quarantined).

These files go only to the agency that sent the records, about its own records, so the counts are exact: the
disclosure rule does not apply. Values are repeated as they arrived, identifiers included (the supplier sent
them and needs them to find the row), except a column the contract marks as free text (`sensitivity:
free_text`): its value is never written, in the value column or inside a reason, and the row says so. A value
that a spreadsheet would read as a formula is written with a leading apostrophe (`_inert`). A problem
that names no column (a line that is not text in the file's encoding, a row of the wrong width) has no column
and no value: the whole line may hold free text."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment

from safestats.contracts import Contract, load_contracts
from safestats.outputs.area import Area, Output, csv_bytes
from safestats.outputs.audience import supplier

FREE_TEXT = "free_text"
FREE_TEXT_NOTE = "free text not repeated"
STATUSES = ("loaded", "superseded", "quarantined")
TOP_REASONS = 5
REJECT_COLUMNS = ["file", "row_number", "column", "reason", "value", "note"]
SUMMARY_COLUMNS = ["load_id", "file", "dataset", "month", "status", "rows_read", "rows_loaded", "rows_rejected",
                   "error", "reason", "problems"]


@dataclass(frozen=True)
class Problem:
    column: str          # the header label, '' when the problem names no column
    reason: str          # as the ingest wrote it, less any free-text value
    generic: str         # the reason with its quoted values taken out, for counting kinds of problem
    value: str | None    # the column's value as it arrived ('' blank, None not repeated)
    note: str = ""
    counted: bool = True  # False on the second column of a coordinate pair's one problem


@dataclass(frozen=True)
class Load:
    load_id: int
    file_name: str
    dataset: str | None
    agency: str | None
    period: str | None
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    status: str
    error: str | None


def sensitivities(models_dir: Path) -> dict[tuple[str, str], str]:
    """(dataset, header label) -> the column's `meta.sensitivity`, from the same source YAML as the contracts
    (the contract itself does not carry it)."""
    found = {}
    for path in sorted(models_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for source in doc.get("sources", []) if isinstance(doc, dict) else []:
            for table in source.get("tables", []):
                if not (table.get("meta") or {}).get("ingest"):
                    continue
                dataset = table.get("identifier", table["name"])
                for col in table.get("columns", []):
                    meta = col.get("meta") or {}
                    header = (meta.get("extract") or {}).get("header")
                    if header and meta.get("sensitivity"):
                        found[(dataset, header)] = meta["sensitivity"]
    return found


def _without_places(reason: str) -> str:
    """A problem of a whole line as a kind of problem: without the line, position or byte it names."""
    reason = re.sub(r"\b(line|position) \d+", r"\1 N", reason)
    return re.sub(r"\bbyte 0x[0-9A-Fa-f]{2}\b", "byte 0xNN", reason)


def _quoted(value) -> str:
    return f' "{value}"'


def split_reason(reason: str, record: dict, contract: Contract | None,
                 sensitivity: dict[tuple[str, str], str]) -> list[Problem]:
    """The problems of one rejected row. A contract check's problems are joined by '; ' and each starts with a
    header label, then the value in quotes when it has one (`Arrival time "25:10" is not a time of day`, or a
    coordinate pair `Latitude "x" and Longitude "y" are swapped`); knowing the row's values, a value holding
    '; ' or quotes cannot mislead the split. A row the file could not give as fields is one problem."""
    if contract is None or ("line" in record and not any(c.header == "line" for c in contract.columns)):
        return [Problem("", reason, _without_places(reason), None)]
    labels = sorted((c.header for c in contract.columns), key=len, reverse=True)
    problems, pos = [], 0
    while pos < len(reason):
        label = next((h for h in labels if reason.startswith(h + " ", pos)), None)
        if label is None:   # not one of the contract's problems: the rest as one, with no column
            rest = reason[pos:]
            problems.append(Problem("", rest, _without_places(rest), None))
            break
        at = pos + len(label)
        shown = [(label, record.get(label))]
        free = sensitivity.get((contract.dataset, label)) == FREE_TEXT
        text, generic = label, label
        value = shown[0][1]
        if value is not None and reason.startswith(_quoted(value), at):
            at += len(_quoted(value))
            text += ' "…"' if free else _quoted(value)
            other = next((h for h in labels if reason.startswith(" and " + h + " ", at)), None)
            if other is not None and record.get(other) is not None \
                    and reason.startswith(_quoted(record[other]), at + 5 + len(other)):
                other_free = sensitivity.get((contract.dataset, other)) == FREE_TEXT
                text += " and " + other + (' "…"' if other_free else _quoted(record[other]))
                generic += " and " + other
                at += 5 + len(other) + len(_quoted(record[other]))
                shown.append((other, record[other]))
        end = reason.find("; ", at)
        end = len(reason) if end < 0 else end
        text += reason[at:end]
        generic += reason[at:end]
        for i, (column, val) in enumerate(shown):
            if sensitivity.get((contract.dataset, column)) == FREE_TEXT:
                problems.append(Problem(column, text, generic, None, FREE_TEXT_NOTE, counted=i == 0))
            else:
                problems.append(Problem(column, text, generic, "" if val is None else str(val), counted=i == 0))
        pos = end + 2
    return problems


def _loads(conn, load_ids: list[int] | None) -> list[Load]:
    query = ("select load_id, file_name, dataset, agency, to_char(period, 'YYYY-MM'), rows_read, rows_loaded,"
             " rows_rejected, status, error from raw._loads where ")
    if load_ids is None:
        rows = conn.execute(query + "status = any(%s) order by load_id", (list(STATUSES),)).fetchall()
    else:
        rows = conn.execute(query + "load_id = any(%s) order by load_id", (list(load_ids),)).fetchall()
    return [Load(*r) for r in rows]


def _stem(file_name: str) -> str:
    """The file's name without its suffix, as a path part (anything but letters, digits, '.', '_', '-' as '-')."""
    stem = Path(file_name.replace("\\", "/")).stem or "file"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "file"


def _inert(value: str) -> str:
    """A value as it arrived, made inert for a spreadsheet: one starting like a formula (=, +, -, @, a tab or a
    carriage return) gets a leading apostrophe, which spreadsheets show as text and do not evaluate."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


SUMMARY_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #1b1b1b; margin: 0; }
 h1 { font-size: 16pt; margin: 0 0 4px; color: #0b3d61; }
 p { margin: 4px 0 10px; }
 .meta { color: #555; }
 table { border-collapse: collapse; width: 100%; table-layout: fixed; }
 th { background: #0b3d61; color: #fff; text-align: left; padding: 5px 4px; font-weight: 600; font-size: 8pt; }
 th.n { text-align: right; }
 td { border-bottom: 1px solid #d6dde4; padding: 5px 4px; vertical-align: top; }
 tr { page-break-inside: avoid; }
 td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
 td.file, td.dataset { overflow-wrap: anywhere; }
 td.month { white-space: nowrap; }
 .status { font-weight: 600; }
 .quarantined { color: #a4000f; }
 .superseded { color: #6b6b6b; }
 .loaded { color: #1d6b2c; }
 ul { margin: 0; padding-left: 14px; }
 li { margin: 0 0 2px; }
 .count { color: #555; white-space: nowrap; }
 .none { color: #6b6b6b; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">{{ agency_name }} ({{ agency }}) &middot; refresh of {{ refresh_date }} &middot;
{{ loads|length }} file{{ '' if loads|length == 1 else 's' }}</p>
<p>What became of each file you sent. Rows that failed a check of the extract's agreed layout were not loaded;
each file's rejects report (<em>&lt;load&gt;-&lt;file&gt;-rejects.csv</em>) lists every problem with its row number
(data rows counted from 1; the header row is not counted, so in a spreadsheet row N is on line N + 1), the column and
the value as it arrived. A quarantined file was not loaded at all; the reason is given below. Counts are exact:
these figures are about your own records and go only to you.</p>
<table>
<colgroup><col style="width:20%"><col style="width:14%"><col style="width:8%"><col style="width:9%">
<col style="width:8%"><col style="width:8%"><col style="width:8%"><col style="width:25%"></colgroup>
<thead><tr><th>File</th><th>Dataset</th><th>Month</th><th>Status</th><th class="n">Read</th><th class="n">Loaded</th>
<th class="n">Rejected</th><th>Problems (commonest first)</th></tr></thead>
<tbody>
{% for s in loads %}<tr>
<td class="file">{{ s.load.file_name }}</td><td class="dataset">{{ s.load.dataset or '' }}</td>
<td class="month">{{ s.load.period or '' }}</td>
<td class="status {{ s.load.status }}">{{ s.load.status }}</td>
<td class="n">{{ s.read }}</td><td class="n">{{ s.loaded }}</td><td class="n">{{ s.rejected }}</td>
<td>{% if s.load.status == 'quarantined' %}<span class="quarantined">{{ s.load.error }}</span>
{% elif s.reasons %}<ul>{% for reason, n in s.reasons %}<li>{{ reason }} <span class="count">&times; {{ n }}</span></li>
{% endfor %}{% if s.more %}<li class="none">and {{ s.more }} other kind{{ '' if s.more == 1 else 's' }} of problem
(see the rejects report)</li>{% endif %}</ul>
{% else %}<span class="none">none</span>{% endif %}</td>
</tr>
{% endfor %}</tbody></table>
</body></html>
"""


def _number(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def _summary(agency: str, agency_name: str, refresh_date: str, entries: list[dict]) -> tuple[str, bytes]:
    title = f"Feedback on your extracts: {agency_name}"
    shown = [{"load": e["load"], "read": _number(e["load"].rows_read), "loaded": _number(e["load"].rows_loaded),
              "rejected": _number(e["load"].rows_rejected), "reasons": e["kinds"].most_common(TOP_REASONS),
              "more": max(0, len(e["kinds"]) - TOP_REASONS)} for e in entries]
    html = Environment(autoescape=True).from_string(SUMMARY_HTML).render(
        title=title, agency=agency, agency_name=agency_name, refresh_date=refresh_date, loads=shown)
    rows = []
    for e in entries:
        load = e["load"]
        common = [load.load_id, load.file_name, load.dataset or "", load.period or "", load.status,
                  *("" if n is None else n for n in (load.rows_read, load.rows_loaded, load.rows_rejected)),
                  load.error or ""]
        kinds = e["kinds"].most_common()
        rows += [[*common, reason, n] for reason, n in kinds] if kinds else [[*common, "", ""]]
    return html, csv_bytes(SUMMARY_COLUMNS, rows)


def build_supplier_feedback(conn, area: Area, project_dir: Path, *, load_ids: list[int] | None,
                            refresh_date: str) -> list[Output]:
    """For every load in load_ids (all loads with status loaded/superseded/quarantined when None): a rejects report
    supplier_feedback/<agency>/<load_id>-<file stem>-rejects.csv (kind='supplier_rejects',
    audience='supplier:<agency>', period=the load's period 'YYYY-MM' (or refresh_date), subject=agency), and per
    agency a summary of this refresh's loads supplier_feedback/<agency>/summary-<refresh_date>.html and .csv
    (kind='supplier_summary', audience='supplier:<agency>', period=refresh_date).

    A load with no agency (a file that matched no dataset) has nobody to go to and is left out."""
    models = Path(project_dir) / "models"
    contracts = {c.dataset: c for c in load_contracts(models)}
    sensitivity = sensitivities(models)
    outputs: list[Output] = []
    by_agency: dict[str, list[dict]] = {}
    for load in _loads(conn, load_ids):
        if not load.agency:
            continue
        agency = load.agency
        kinds: Counter = Counter()
        by_agency.setdefault(agency, []).append({"load": load, "kinds": kinds})
        if load.status == "quarantined":
            continue
        contract = contracts.get(load.dataset)
        rows = []
        for number, reason, record in conn.execute(
                "select source_row_number, reason, record from raw._rejects where load_id = %s"
                " order by source_row_number", (load.load_id,)):
            for p in split_reason(reason, record or {}, contract, sensitivity):
                kinds[p.generic] += p.counted
                rows.append([load.file_name, number, p.column, p.reason, _inert("" if p.value is None else p.value),
                             p.note])
        outputs.append(area.write(
            f"supplier_feedback/{agency}/{load.load_id}-{_stem(load.file_name)}-rejects.csv",
            csv_bytes(REJECT_COLUMNS, rows), kind="supplier_rejects", title=f"Rejected rows of {load.file_name}",
            period=load.period or refresh_date, subject=agency, audience=supplier(agency)))
    for agency, entries in sorted(by_agency.items()):
        names = {c.agencies.get(agency) for c in contracts.values()} - {None}
        agency_name = sorted(names)[0] if names else agency
        html, table = _summary(agency, agency_name, refresh_date, entries)
        common = {"kind": "supplier_summary", "title": f"Feedback on {agency_name}'s extracts, {refresh_date}",
                  "period": refresh_date, "subject": agency, "audience": supplier(agency)}
        outputs.append(area.write(f"supplier_feedback/{agency}/summary-{refresh_date}.html", html, **common))
        outputs.append(area.write(f"supplier_feedback/{agency}/summary-{refresh_date}.csv", table, **common))
    return outputs
