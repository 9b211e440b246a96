"""What the health generators (LAS dispatches, ISTV attendances) share: London's boroughs by population, when
violence happens (night and weekend peaks, a summer high), month arithmetic and fast CSV text."""
from __future__ import annotations

import calendar
from datetime import date
from functools import lru_cache

import numpy as np

# month arithmetic is london's (the police generator's), re-exported for the health generators
from safestats.synth.london import month_index, month_str, months  # noqa: F401

# GSS code -> (name, mid-2023 population, night-time economy factor). Populations are rounded ONS/GLA
# estimates; the factor lifts the boroughs whose town centres draw violence far beyond their residents.
BOROUGHS = {
    "E09000001": ("City of London", 8_400, 6.0),
    "E09000002": ("Barking and Dagenham", 227_000, 1.05),
    "E09000003": ("Barnet", 418_000, 0.75),
    "E09000004": ("Bexley", 260_000, 0.75),
    "E09000005": ("Brent", 351_000, 1.0),
    "E09000006": ("Bromley", 345_000, 0.7),
    "E09000007": ("Camden", 262_000, 1.5),
    "E09000008": ("Croydon", 412_000, 1.05),
    "E09000009": ("Ealing", 386_000, 0.9),
    "E09000010": ("Enfield", 353_000, 0.95),
    "E09000011": ("Greenwich", 301_000, 1.0),
    "E09000012": ("Hackney", 296_000, 1.35),
    "E09000013": ("Hammersmith and Fulham", 207_000, 1.15),
    "E09000014": ("Haringey", 295_000, 1.15),
    "E09000015": ("Harrow", 267_000, 0.65),
    "E09000016": ("Havering", 277_000, 0.8),
    "E09000017": ("Hillingdon", 325_000, 0.85),
    "E09000018": ("Hounslow", 291_000, 0.9),
    "E09000019": ("Islington", 247_000, 1.4),
    "E09000020": ("Kensington and Chelsea", 163_000, 1.2),
    "E09000021": ("Kingston upon Thames", 188_000, 0.8),
    "E09000022": ("Lambeth", 345_000, 1.4),
    "E09000023": ("Lewisham", 326_000, 1.1),
    "E09000024": ("Merton", 218_000, 0.8),
    "E09000025": ("Newham", 373_000, 1.2),
    "E09000026": ("Redbridge", 323_000, 0.8),
    "E09000027": ("Richmond upon Thames", 207_000, 0.6),
    "E09000028": ("Southwark", 337_000, 1.35),
    "E09000029": ("Sutton", 217_000, 0.7),
    "E09000030": ("Tower Hamlets", 341_000, 1.35),
    "E09000031": ("Waltham Forest", 297_000, 1.0),
    "E09000032": ("Wandsworth", 348_000, 1.0),
    "E09000033": ("Westminster", 267_000, 2.6),
}

# Violence by hour of day: quiet early morning, rising through the evening, highest around midnight.
HOUR_WEIGHT = np.array([7.0, 6.5, 5.5, 4.2, 3.0, 2.0, 1.5, 1.6, 2.0, 2.4, 2.8, 3.2,
                        3.6, 3.8, 4.0, 4.3, 4.8, 5.3, 5.8, 6.2, 6.6, 7.0, 7.4, 7.6])
# Monday .. Sunday: Friday and Saturday nights are the busiest, Sunday's small hours follow Saturday.
WEEKDAY_WEIGHT = np.array([0.85, 0.85, 0.9, 0.95, 1.15, 1.4, 1.25])
WEEKEND_NIGHT_BOOST = 1.7   # hours 00-04 on Saturday and Sunday mornings, 20-23 on Friday and Saturday
SEASONAL = {"01": 0.9, "02": 0.88, "03": 0.95, "04": 0.98, "05": 1.05, "06": 1.1, "07": 1.12, "08": 1.08,
            "09": 1.0, "10": 1.0, "11": 0.96, "12": 1.0}


def rng_for(seed: int, dataset: str, month: str, scale: float) -> np.random.Generator:
    """One stream per seed, dataset and month: a month never depends on the range it was made in."""
    key = [int(seed), sum(dataset.encode()), len(dataset), int(month[:4]), int(month[5:]), round(scale * 1e6)]
    return np.random.default_rng(np.random.SeedSequence(key))


@lru_cache(maxsize=16)
def day_hour_weights(month: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (day, hour) slot of the month as (dates as ordinals, hours) and the share of violence in each.
    Cached: callers must not change the arrays."""
    year, mon = int(month[:4]), int(month[5:])
    n_days = calendar.monthrange(year, mon)[1]
    first = date(year, mon, 1)
    weekday = (first.weekday() + np.arange(n_days)) % 7
    w = WEEKDAY_WEIGHT[weekday][:, None] * HOUR_WEIGHT[None, :]
    w[np.isin(weekday, (5, 6)), :5] *= WEEKEND_NIGHT_BOOST
    w[np.isin(weekday, (4, 5)), 20:] *= WEEKEND_NIGHT_BOOST
    days = first.toordinal() + np.repeat(np.arange(n_days), 24)
    hours = np.tile(np.arange(24), n_days)
    return np.stack([days, hours]), (w / w.sum()).ravel()


def borough_weights(codes: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    codes = codes or list(BOROUGHS)
    w = np.array([BOROUGHS[c][1] * BOROUGHS[c][2] for c in codes], dtype=float)
    return codes, w / w.sum()


def q(field: str) -> str:
    """One CSV field as csv.QUOTE_MINIMAL writes it (files are built as text: csv.writer is slow)."""
    if any(ch in field for ch in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


def line(fields, end: str = "\n") -> str:
    return ",".join(q(f) for f in fields) + end
