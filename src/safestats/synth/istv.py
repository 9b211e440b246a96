"""Synthesise ISTV (ISB 1594) A&E assault attendance files: one per emergency department site per month,
YYYY-MM-<site code>-istv.csv, with late and missed submissions and each site system's own dirt."""
from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from safestats.synth import Progress
from safestats.synth import _health_common as common

DATASET = "istv_assault_attendances"
HEADER = ["Site code", "Reporting period start date", "Reporting period end date", "Arrival date", "Arrival time",
          "Assault date", "Assault time", "Assault method", "Assault method other description",
          "Assault location type", "Assault location description"]
# The older vintage some trusts' systems still write (accepted through the contract's aliases).
OLD_HEADER = ["Provider site code", "Period start", "Period end", "Attendance date", "Attendance time",
              "Assault date", "Assault time", "Weapon or means", "Weapon or means other", "Location type",
              "Location of assault"]
ROWS_PER_MONTH = 2_000

# ODS site code -> relative size of its ED's assault caseload (seeds/health/hospital_sites.csv lists the sites).
SITES = {
    "RKEQ4": 0.8, "RP601": 0.15, "RAL01": 1.0, "RAL26": 1.0, "RAPNM": 1.3, "RRV03": 1.1, "R1H12": 1.6,
    "R1HKH": 1.1, "R1HNH": 1.2, "RQXM1": 1.2, "RJ122": 1.5, "RJZ01": 1.5, "RJZ30": 0.9, "RJ701": 1.4,
    "RYJ01": 1.3, "RYJ02": 0.8, "RQM01": 0.9, "RQM91": 1.0, "R1K01": 1.3, "R1K04": 0.9, "RAS01": 0.9,
    "RF4QH": 1.4, "RF4DG": 0.8, "RJ224": 1.1, "RJ231": 1.1, "RJ611": 1.3, "RAX01": 0.8, "RVR05": 0.8,
}


@dataclass(frozen=True)
class SiteSystem:
    """How one site's ED system writes its file (fixed per site: the same software every month)."""
    encoding: str = "utf-8"      # utf-8 or cp1252
    bom: bool = False
    crlf: bool = False
    old_header: bool = False
    padded: bool = False         # trailing spaces after values
    short_codes: bool = False    # codes without the leading zero ("1" for "01")


SYSTEMS = {
    "RJ122": SiteSystem(crlf=True, bom=True), "RJZ01": SiteSystem(crlf=True, bom=True),
    "R1H12": SiteSystem(encoding="cp1252", crlf=True), "R1HKH": SiteSystem(encoding="cp1252", crlf=True),
    "R1HNH": SiteSystem(encoding="cp1252", crlf=True), "RF4QH": SiteSystem(old_header=True, crlf=True),
    "RF4DG": SiteSystem(old_header=True, crlf=True), "RJ611": SiteSystem(padded=True, bom=True),
    "RYJ01": SiteSystem(bom=True), "RYJ02": SiteSystem(bom=True, short_codes=True),
    "RKEQ4": SiteSystem(encoding="cp1252", padded=True), "RAX01": SiteSystem(old_header=True, short_codes=True),
    "RVR05": SiteSystem(crlf=True, padded=True),
}

METHODS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "98", "99"]
METHOD_P = np.array([0.55, 0.08, 0.10, 0.05, 0.005, 0.03, 0.02, 0.005, 0.005, 0.06, 0.095])
LOCATIONS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "98", "99"]
LOCATION_P = np.array([0.38, 0.14, 0.16, 0.05, 0.04, 0.02, 0.05, 0.04, 0.03, 0.01, 0.01, 0.02, 0.05])
OTHER_METHODS = ["Hit with a bike lock", "Struck with a scooter", "Pushed down stairs", "Hit with a mobile phone",
                 "Bitten by the assailant", "Hit with a golf club", "Sprayed with pepper spray",
                 "Hit with a chair at the café", "Kicked while on the ground, then robbed of £40"]
STREETS = ["Holloway Road", "Seven Sisters Road", "Old Kent Road", "Mile End Road", "Brixton Road", "Kilburn High Road",
           "Tooting High Street", "Uxbridge Road", "Green Lanes", "Lewisham High Street", "Peckham Rye",
           "Walworth Road", "Kingsland Road", "Camden High Street", "Edgware Road", "Streatham High Road",
           "Romford Road", "Lordship Lane", "Clapham High Street", "Upper Street"]
PLACE_TEMPLATES = {
    "01": ["Outside the £1 shop on {s}", "Bus stop on {s}", "Pavement outside 24 {s}", "Alley behind {s}"],
    "02": ["The Crown pub, {s}", "Nightclub on {s}", "Outside the Café Rouge, {s}", "Kebab shop queue, {s}"],
    "03": ["Home address", "Patient's flat", "Own home, kitchen"],
    "04": ["Friend's flat off {s}", "Party at a house on {s}", "Partner's address"],
    "05": ["At work, shop floor", "Security desk at work", "Building site off {s}"],
    "06": ["School gates", "College canteen", "University halls"],
    "07": ["Night bus on {s}", "Platform at the station", "Tube carriage"],
    "08": ["Supermarket on {s}", "Betting shop, {s}", "Chicken shop on {s}"],
    "09": ["Park off {s}", "Common near {s}", "Playground on the estate"],
    "10": ["Police custody", "Prison wing"],
    "11": ["Waiting room", "GP surgery on {s}"],
    "98": ["Garage forecourt on {s}", "Car park behind {s}", "Canal towpath near {s}"],
    "99": ["Can't remember", "Not given", ""],
}
# Every free-text value that mentions a street carries this marker: the privacy tests look for it
# in every cell of every relation past the privacy boundary.
FREE_TEXT_MARKER = "[ftx]"
HH_MM = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]
LATE_SHARE = 0.12     # site-months whose file arrives in the next month's folder
MISSED_SHARE = 0.04   # site-months that never arrive
BAD_ARRIVAL_TIME = "25:10"   # planted: not a time of day; the ingest must reject the row with the reason
BAD_ROW_SHARE = 0.15          # share of site-month files carrying one such row


def _site_rng(seed: int, site: str, month: str) -> np.random.Generator:
    digest = int(hashlib.sha256(f"{seed}:{site}:{month}".encode()).hexdigest()[:12], 16)
    return np.random.default_rng(digest)


def submission(site: str, month: str, *, seed: int = 42) -> str:
    """'on_time', 'late' (lands in the next month's folder) or 'missed' for a site's month."""
    u = _site_rng(seed, site, month + ":submission").random()
    if u < MISSED_SHARE:
        return "missed"
    return "late" if u < MISSED_SHARE + LATE_SHARE else "on_time"


def _fmt_date(d: date) -> str:
    return d.isoformat()


def site_lines(site: str, month: str, n: int, rng: np.random.Generator, system: SiteSystem) -> list[list[str]]:
    """The rows (as field lists) of one site's month, in arrival order."""
    year, mon = int(month[:4]), int(month[5:])
    first, last = date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
    slots, slot_p = common.day_hour_weights(month)
    pick = np.sort(rng.choice(slot_p.size, size=n, p=slot_p))
    # patients arrive 0-3 hours after most assaults, some the next day or later
    lag_minutes = np.where(rng.random(n) < 0.8, rng.integers(10, 180, n), rng.integers(180, 60 * 24 * 5, n))
    minutes = rng.integers(0, 60, n)
    method = rng.choice(len(METHODS), size=n, p=METHOD_P)
    location = rng.choice(len(LOCATIONS), size=n, p=LOCATION_P)
    unknown_u = rng.random(n)
    text_u = rng.random(n)
    # minutes from the month's start: arrivals in the month, assaults up to five days before
    arrival = (slots[0, pick] - first.toordinal()) * 1440 + slots[1, pick] * 60 + minutes
    assault = arrival - lag_minutes
    days = {d: (first + timedelta(days=d)).isoformat() for d in range(-6, 32)}
    arrival_day = [days[d] for d in (arrival // 1440).tolist()]
    arrival_hm = [HH_MM[m] for m in (arrival % 1440).tolist()]
    assault_day = [days[d] for d in (assault // 1440).tolist()]
    assault_hm = [HH_MM[m] for m in (assault % 1440).tolist()]
    head = [site, first.isoformat(), last.isoformat()]
    rows = []
    for i in range(n):
        assault_date, assault_time = assault_day[i], assault_hm[i]
        if unknown_u[i] < 0.06:
            assault_date = assault_time = ""
        elif unknown_u[i] < 0.10:
            assault_time = ""
        m, loc = METHODS[method[i]], LOCATIONS[location[i]]
        other = OTHER_METHODS[int(text_u[i] * len(OTHER_METHODS))] + " " + FREE_TEXT_MARKER if m == "98" else ""
        templates = PLACE_TEMPLATES[loc]
        place = templates[int(text_u[i] * 997) % len(templates)]
        if "{s}" in place:
            place = place.format(s=STREETS[int(text_u[i] * 7919) % len(STREETS)]) + " " + FREE_TEXT_MARKER
        if system.short_codes:
            m, loc = m.lstrip("0"), loc.lstrip("0")
        rows.append(head + [arrival_day[i], arrival_hm[i], assault_date, assault_time, m, other, loc, place])
    if rows and rng.random() < BAD_ROW_SHARE:
        rows[int(rng.integers(len(rows)))][4] = BAD_ARRIVAL_TIME
    if system.padded:
        rows = [[f + " " if f else f for f in row] for row in rows]
    return rows


def _write(path: Path, header: list[str], rows: list[list[str]], system: SiteSystem) -> None:
    end = "\r\n" if system.crlf else "\n"
    text = common.line(header, end) + "".join(common.line(r, end) for r in rows)
    data = text.encode(system.encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if system.bom else b"") + data)


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """Every file that ARRIVES in each month of the range, into out_dir/<month>/: the sites' on-time files
    of that month and the late files of the month before; missed site-months never arrive. Made month by
    month (as the demo does) or as one range, the folders hold the same files."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    sites = list(SITES)
    weights = np.array([SITES[s] for s in sites])
    written = []
    for arrival in common.months(first_month, last_month):
        previous = common.month_str(common.month_index(arrival) - 1)
        for month, wanted in ((previous, "late"), (arrival, "on_time")):
            rng = common.rng_for(seed, DATASET, month, scale)
            n = int(rng.poisson(ROWS_PER_MONTH * common.SEASONAL[month[5:]] * scale))
            counts = rng.multinomial(n, weights / weights.sum())
            for site, count in zip(sites, counts.tolist()):
                if submission(site, month, seed=seed) != wanted:
                    continue
                system = SYSTEMS.get(site, SiteSystem())
                rows = site_lines(site, month, count, _site_rng(seed, site, f"{month}:{scale!r}"), system)
                path = Path(out_dir) / arrival / f"{month}-{site.lower()}-istv.csv"
                _write(path, OLD_HEADER if system.old_header else HEADER, rows, system)
                written.append(path)
                if progress:
                    progress(path, len(rows))
    return written
