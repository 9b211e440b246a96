"""Synthesise the London Ambulance Service's monthly violence-related dispatches (YYYY-MM-las-violence-dispatches)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np

from safestats.synth import _health_common as common

DATASET = "las_violence_dispatches"
HEADER = ["Incident reference", "Incident date", "Incident time", "Call category", "Patient age", "Patient sex",
          "Latitude", "Longitude", "LSOA code", "Borough code"]
ROWS_PER_MONTH = 6_000
CATEGORIES = ["Assault", "Stabbing/knife", "Shooting", "Sexual assault", "Domestic violence", "Other violence"]
CATEGORY_P = np.array([0.58, 0.08, 0.005, 0.04, 0.18, 0.115])
# share of male patients by category (domestic violence and sexual assault patients are mostly women)
MALE_P = np.array([0.70, 0.86, 0.90, 0.12, 0.25, 0.62])
LSOA_SHARE = 0.55            # rows CAD located to an LSOA; the others carry a point only
OUTSIDE_LONDON_SHARE = 0.008  # calls just over the border: CAD records a district outside London
NO_BOROUGH_SHARE = 0.003      # CAD could not place the call in any local authority
NO_LOCATION_SHARE = 0.3       # of the no-borough rows, those with neither point nor LSOA
NEIGHBOURS = {  # districts on London's edge: GSS code -> (lat, lon)
    "E07000207": (51.37, -0.38), "E07000208": (51.34, -0.26), "E07000215": (51.27, -0.05),
    "E07000098": (51.67, -0.28), "E07000072": (51.69, 0.11), "E07000213": (51.43, -0.47),
    "E07000066": (51.60, 0.28), "E07000107": (51.43, 0.20),
}
# Planted invalid rows: the ingest must reject them with a reason (tests count them by these values).
BAD_DATE_DAY = "32"          # "2025-01-32": not a date
BAD_AGE = "4O"               # letter O: not a whole number
BAD_ROWS_PER_MONTH = (2, 1)  # bad dates, bad ages


def _lsoas_by_borough() -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """The police.uk generator's synthetic map, so the datasets share one set of LSOAs:
    borough GSS code -> (LSOA codes, their (lat, lon) centres, their relative weights)."""
    from safestats.synth.police_uk import POINTS_PER_LSOA, geography

    geo = geography()
    by_name = {name: code for code, (name, _, _) in common.BOROUGHS.items()}
    found = {}
    for name, lsoas in geo.borough_lsoas.items():
        codes = [geo.points[i * POINTS_PER_LSOA][3] for i in lsoas.tolist()]
        w = geo.lsoa_weight[lsoas]
        found[by_name[name]] = (codes, geo.lsoa_xy[lsoas], w / w.sum())
    return found


def month_lines(month: str, *, seed: int = 42, scale: float = 1.0, lsoas=None) -> list[str]:
    """The data lines (CRLF-terminated, as CAD exports them) of one month's file, in call order."""
    rng = common.rng_for(seed, DATASET, month, scale)
    lsoas = lsoas or _lsoas_by_borough()
    n = int(rng.poisson(ROWS_PER_MONTH * common.SEASONAL[month[5:]] * scale))
    slots, slot_p = common.day_hour_weights(month)
    pick = rng.choice(slot_p.size, size=n, p=slot_p)
    day, hour = slots[0, pick], slots[1, pick]
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    order = np.lexsort((seconds, day))
    day, seconds = day[order], seconds[order]

    codes, borough_p = common.borough_weights()
    borough = rng.choice(len(codes), size=n, p=borough_p)
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_P)
    male = rng.random(n) < MALE_P[category]
    sex_u = rng.random(n)
    age = np.clip(np.round(rng.gamma(6.5, 4.6, n) + np.where(category == 4, 4, 0)).astype(int), 0, 98)
    age_blank = rng.random(n) < 0.04
    where_u = rng.random(n)
    has_lsoa = rng.random(n) < LSOA_SHARE
    place_u = rng.random(n)
    neighbours = list(NEIGHBOURS)

    lines, per_day = [], {}
    for i in range(n):
        d = date.fromordinal(int(day[i]))
        seq = per_day[d] = per_day.get(d, 0) + 1
        ref = f"INC-{d:%Y%m%d}-{seq:05d}"
        s = int(seconds[i])
        time_text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
        cat = CATEGORIES[category[i]]
        if place_u[i] < 0.02:
            cat += " "  # trailing space, as some CAD exports pad the field
        if sex_u[i] < 0.02:
            sex = "Unknown"
        elif sex_u[i] < 0.05:
            sex = "M" if male[i] else "F"  # the older CAD console's codes
        else:
            sex = "Male" if male[i] else "Female"
        lat = lon = lsoa = ""
        if where_u[i] < NO_BOROUGH_SHARE:
            gss = ""
            if place_u[i] > NO_LOCATION_SHARE:
                lat, lon = f"{51.3 + place_u[i] * 0.35:.6f}", f"{-0.45 + where_u[i] * 100:.6f}"
        elif where_u[i] < NO_BOROUGH_SHARE + OUTSIDE_LONDON_SHARE:
            gss = neighbours[int(place_u[i] * len(neighbours))]
            c_lat, c_lon = NEIGHBOURS[gss]
            lat, lon = f"{c_lat + rng.normal(0, 0.02):.6f}", f"{c_lon + rng.normal(0, 0.03):.6f}"
        else:
            gss = codes[borough[i]]
            b_codes, centres, w = lsoas[gss]
            k = int(np.searchsorted(np.cumsum(w), place_u[i] * w.sum()))
            k = min(k, len(b_codes) - 1)
            if has_lsoa[i]:
                lsoa = b_codes[k]
            else:
                c_lat, c_lon = centres[k]
                lat, lon = f"{c_lat + rng.normal(0, 0.002):.6f}", f"{c_lon + rng.normal(0, 0.003):.6f}"
        lines.append(common.line([ref, d.isoformat(), time_text, cat, "" if age_blank[i] else str(age[i]), sex,
                                  lat, lon, lsoa, gss], end="\r\n"))
    _plant_bad_rows(rng, lines, month)
    return lines


def _plant_bad_rows(rng: np.random.Generator, lines: list[str], month: str) -> None:
    """A few rows a careless export produces, which the ingest must reject with a reason."""
    bad_dates, bad_ages = BAD_ROWS_PER_MONTH
    if len(lines) < bad_dates + bad_ages:
        return
    picks = rng.choice(len(lines), size=bad_dates + bad_ages, replace=False)
    for k, at in enumerate(picks.tolist()):
        fields = lines[at].rstrip("\r\n").split(",")
        if k < bad_dates:
            fields[1] = f"{month}-{BAD_DATE_DAY}"
        else:
            fields[4] = BAD_AGE
        lines[at] = ",".join(fields) + "\r\n"


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Callable[[str], None] | None = None) -> list[Path]:
    """One file per month into out_dir/<YYYY-MM>/ (LAS always sends on time): UTF-8, CRLF, no BOM."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    lsoas, written = _lsoas_by_borough(), []
    for month in common.months(first_month, last_month):
        lines = month_lines(month, seed=seed, scale=scale, lsoas=lsoas)
        path = Path(out_dir) / month / f"{month}-las-violence-dispatches.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(common.line(HEADER, end="\r\n"))
            fh.writelines(lines)
        written.append(path)
        if progress:
            progress(f"{path} ({len(lines):,} rows)")
    return written
