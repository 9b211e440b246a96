"""Synthesise the London Ambulance Service's monthly violence-related dispatches (YYYY-MM-las-violence-dispatches)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from safestats.synth import Progress
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
    jitter = rng.standard_normal((n, 2))

    # where: a London borough (an LSOA or a point in it), a district over the border (a point), or nowhere
    gss = np.array([codes[b] for b in borough.tolist()], dtype=object)
    lat, lon = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    lsoa = np.full(n, "", dtype=object)
    no_borough = where_u < NO_BOROUGH_SHARE
    outside = ~no_borough & (where_u < NO_BOROUGH_SHARE + OUTSIDE_LONDON_SHARE)
    london = ~no_borough & ~outside
    for code in codes:
        sel = np.flatnonzero(london & (gss == code))
        b_codes, centres, w = lsoas[code]
        k = rng.choice(len(b_codes), size=len(sel), p=w)
        by_lsoa, by_point = sel[has_lsoa[sel]], sel[~has_lsoa[sel]]
        lsoa[by_lsoa] = [b_codes[j] for j in k[has_lsoa[sel]].tolist()]
        xy = centres[k[~has_lsoa[sel]]] + jitter[by_point] * [0.002, 0.003]
        lat[by_point] = [f"{v:.6f}" for v in xy[:, 0].tolist()]
        lon[by_point] = [f"{v:.6f}" for v in xy[:, 1].tolist()]
    neighbours = list(NEIGHBOURS)
    for i in np.flatnonzero(outside).tolist():
        gss[i] = neighbours[int(place_u[i] * len(neighbours))]
        c_lat, c_lon = NEIGHBOURS[gss[i]]
        lat[i], lon[i] = f"{c_lat + jitter[i, 0] * 0.02:.6f}", f"{c_lon + jitter[i, 1] * 0.03:.6f}"
    for i in np.flatnonzero(no_borough).tolist():
        gss[i] = ""
        if place_u[i] > NO_LOCATION_SHARE:
            lat[i], lon[i] = f"{51.3 + place_u[i] * 0.35:.6f}", f"{-0.45 + where_u[i] * 100:.6f}"

    day_text = {d: (f"INC-{date.fromordinal(d):%Y%m%d}-", date.fromordinal(d).isoformat()) for d in set(day.tolist())}
    new_day = np.r_[True, day[1:] != day[:-1]]  # rows are in call order: number the calls of each day
    starts = np.flatnonzero(new_day)
    seq = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n])) + 1
    sex_text = np.where(sex_u < 0.02, "Unknown", np.where(
        sex_u < 0.05, np.where(male, "M", "F"), np.where(male, "Male", "Female")))  # M/F: the older console
    category_text = np.array(CATEGORIES, dtype=object)[category]
    padded = place_u < 0.02   # trailing space, as some CAD exports pad the field
    category_text[padded] = category_text[padded] + " "
    age_text = np.where(age_blank, "", age.astype(str))
    lines = [
        f"{day_text[d][0]}{q:05d},{day_text[d][1]},{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d},"
        f"{c},{a},{sx},{la},{lo},{ls},{g}\r\n"
        for d, q, t, c, a, sx, la, lo, ls, g in zip(day.tolist(), seq.tolist(), seconds.tolist(),
                                                   category_text.tolist(), age_text.tolist(), sex_text.tolist(),
                                                   lat.tolist(), lon.tolist(), lsoa.tolist(), gss.tolist())]
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
               progress: Progress | None = None) -> list[Path]:
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
            progress(path, len(lines))
    return written
