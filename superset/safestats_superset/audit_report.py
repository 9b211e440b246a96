"""The organisation's audit report (/organisation/audit/), for its administrators: per user and month, logins,
failed logins, conditions accepted, queries, chart views, exports and the rows exported, downloads and
administration, counted by the database from the audit chain (governance.organisation_activity); filters by
month and user; a CSV or XLSX download, itself audited."""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response, request
from flask_login import current_user

from safestats_superset import audit, steward
from safestats_superset.org_admin import NAV, administrator, refused
from safestats_superset.pages import e, page

PATH = "/organisation/audit/"
COLUMNS = (("username", "User"), ("month", "Month"), ("logins", "Logins"), ("failed_logins", "Failed logins"),
           ("conditions_accepted", "Conditions accepted"), ("queries", "SQL Lab queries"),
           ("chart_views", "Chart views"), ("exports", "Exports"), ("exported_rows", "Rows exported"),
           ("downloads", "Downloads"), ("administration", "Administration"))


def _month(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat((text or "") + "-01") if text and len(text) == 7 else default
    except ValueError:
        return default


def report_page():
    admin = administrator()
    if admin is None:
        return refused()
    today = date.today()
    to_month = _month(request.args.get("to"), today.replace(day=1))
    default_from = date(to_month.year - (to_month.month <= 11), (to_month.month - 12) % 12 + 1, 1)
    from_month = min(_month(request.args.get("from"), default_from), to_month)
    who = (request.args.get("user") or "").strip()
    rows = steward.call("organisation_activity", current_user.username, from_month, to_month, rows=True)
    if who:
        rows = [r for r in rows if r["username"] == who]
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        try:
            audit.write("audit_report_downloaded", current_user.username, "organisation audit report",
                        {"format": fmt, "from": from_month.isoformat()[:7], "to": to_month.isoformat()[:7],
                         "user": who or None, "rows": len(rows)})
        except audit.AuditUnavailable:
            return page("Not available", "<p>The audit trail is unavailable, so the report cannot be downloaded "
                                         "now.</p>", status=503, nav=NAV)
        return _download(rows, fmt, admin)
    head = "".join(f"<th>{e(label)}</th>" for _, label in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(_cell(r, key))}</td>" for key, _ in COLUMNS) + "</tr>" for r in rows)
    query = f"from={from_month:%Y-%m}&to={to_month:%Y-%m}" + (f"&user={e(who)}" if who else "")
    return page(f"{admin.get('organisation_name')}: audit report", f"""
<form method="get" action="{PATH}" class="filters">
<label for="from">From month</label><input id="from" name="from" type="month" value="{from_month:%Y-%m}">
<label for="to">To month</label><input id="to" name="to" type="month" value="{to_month:%Y-%m}">
<label for="user">User (blank: everyone)</label><input id="user" name="user" value="{e(who) if who else ''}">
<div class="actions"><button type="submit">Show</button>
<a href="{PATH}?{query}&format=csv">Download CSV</a><a href="{PATH}?{query}&format=xlsx">Download XLSX</a></div>
</form>
<table class="list" id="activity"><tr>{head}</tr>{body or '<tr><td colspan="11">No activity.</td></tr>'}</table>
<p class="version">Counted from the audit trail for your organisation only; downloading this report is recorded
too.</p>""", wide=True, nav=NAV)


def _cell(row: dict, key: str):
    value = row[key]
    return value.strftime("%Y-%m") if key == "month" else value


def _download(rows: list[dict], fmt: str, admin: dict) -> Response:
    name = f"safestats-audit-{admin.get('organisation_name', 'organisation').lower().replace(' ', '-')}"
    table = [[label for _, label in COLUMNS]] + [[_cell(r, key) for key, _ in COLUMNS] for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(table)
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Activity"
    for line in table:
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
