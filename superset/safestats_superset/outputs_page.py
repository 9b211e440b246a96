"""The outputs page (/outputs/): the files the refresh made for partners (trend reports, the borough core
dataset, hospital data-quality reports, supplier feedback) that the user's organisation may receive under its
agreement, and their download (/outputs/file/<path>), each audited like an export.

The files sit in $SAFESTATS_HOME/outputs, outside any web root; only a path the manifest lists is served, and
only when one of its receivers is among the audiences `safestats superset sync` gave the user's organisation
(organisations.json, from safestats.outputs.audience). Any other path answers 404, the same as a file that does
not exist, and the refusal is audited."""
from __future__ import annotations

import hashlib
from collections import defaultdict

from flask import Response, request
from flask_login import current_user

from safestats_superset import audit, runtime
from safestats_superset.pages import e, page

PATH = "/outputs/"
FILE = "/outputs/file/"
KINDS = (("trend_report", "Quarterly community safety trend reports"),
         ("core_dataset", "Borough core dataset for violence"),
         ("hospital_report", "Hospital data-quality reports (ISTV)"),
         ("hospital_league_table", "Hospital data quality: London league table"),
         ("hospital_submission_gaps", "Hospitals that missed or were late in two of the last three months"),
         ("supplier_summary", "Your files: summary of each refresh"),
         ("supplier_rejects", "Your files: rows rejected, with the reasons"))
INLINE = ("application/pdf", "text/html; charset=utf-8")
# A report shown in the browser runs nothing and fetches nothing but its own embedded images.
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _outputs_dir():
    return runtime.home() / "outputs"


def manifest() -> list[dict]:
    return runtime.json_by_mtime(_outputs_dir() / "manifest.json").get("outputs", [])


def _granted() -> list[str] | None:
    """The audiences of the signed-in user's organisation, or None when they are no active named user."""
    if not current_user.is_authenticated:
        return None
    user = runtime.named_users().get(current_user.username) or {}
    if not user.get("active"):
        return None
    return list(user.get("output_audiences") or [])


def receivable(granted: list[str]) -> list[dict]:
    return [o for o in manifest() if set(o.get("receivers") or ()) & set(granted)]


def _refuse(path: str):
    audit.try_write("output_refused", getattr(current_user, "username", None), path)
    return page("Not found", "<p>There is no such output for your organisation.</p>", status=404)


def outputs_page():
    granted = _granted()
    if granted is None:
        return _refuse(PATH)
    groups = defaultdict(list)
    for o in receivable(granted):
        groups[o["kind"]].append(o)
    sections = []
    for kind, heading in KINDS:
        # the latest period first; within it London, then places by name
        items = sorted(sorted(groups.get(kind, []), key=lambda o: (o["subject"] != "london", o["title"], o["path"])),
                       key=lambda o: o["period"], reverse=True)
        if not items:
            continue
        by_doc = defaultdict(list)
        for o in items:
            by_doc[(o["period"], o["title"])].append(o)
        rows = "".join(
            f'<tr><td class="date">{e(period)}</td><td>{e(title)}</td><td>'
            + " ".join(f'<a href="{FILE}{e(o["path"])}" data-path="{e(o["path"])}">'
                       f'{e(o["path"].rsplit(".", 1)[-1].upper())}</a> ({_size(o["bytes"])})'
                       for o in sorted(docs, key=lambda o: o["path"]))
            + "</td></tr>" for (period, title), docs in by_doc.items())
        sections.append(f'<h2>{e(heading)}</h2><table class="list" data-kind="{e(kind)}">'
                        f'<tr><th>Period</th><th>Output</th><th>Files</th></tr>{rows}</table>')
    body = "".join(sections) or "<p>No output has been made for your organisation yet.</p>"
    return page("Outputs", f"""<p>Reports and files the monthly refresh makes for your organisation's agreement.
Figures in the trend reports and the core dataset are released cells only (counts of 1 to 7 withheld, others
rounded to the nearest 5). Every download is recorded.</p>{body}""", wide=True,
                nav='<a href="/home/">Home</a>')


def _size(n: int) -> str:
    return f"{n / 1024:,.0f} KB" if n >= 1024 else f"{n} bytes"


def download(relpath: str):
    if request.method != "GET":     # a HEAD would run the download (and its audit) and send nothing
        return page("Not available", "<p>Outputs are downloaded with GET.</p>", status=405)
    granted = _granted()
    entry = next((o for o in manifest() if o["path"] == relpath), None)
    if granted is None or entry is None or not set(entry.get("receivers") or ()) & set(granted):
        return _refuse(FILE + relpath)
    path = _outputs_dir() / entry["path"]          # the manifest's own path, never the request's
    try:
        data = path.read_bytes()
    except OSError:
        return _refuse(FILE + relpath)
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return page("Not available", "<p>This file changed since it was listed; try again after the refresh.</p>",
                    status=409)
    try:
        audit.write("output_downloaded", current_user.username, entry["path"],
                    {"kind": entry["kind"], "period": entry["period"], "subject": entry["subject"],
                     "sha256": entry["sha256"], "bytes": len(data)})
    except audit.AuditUnavailable:
        return page("Not available", "<p>The audit trail is unavailable, so nothing can be downloaded now.</p>",
                    status=503)
    name = entry["path"].replace("/", "-")
    disposition = "inline" if entry["media_type"] in INLINE else "attachment"
    return Response(data, mimetype=entry["media_type"].split(";")[0], headers={
        "Content-Disposition": f'{disposition}; filename="{name}"', "Content-Security-Policy": SANDBOX,
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


# Superset's Talisman sets every response's content security policy after the view; it reads a view's own.
download.talisman_view_options = {"content_security_policy": SANDBOX}
