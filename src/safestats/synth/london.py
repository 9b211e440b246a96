"""London geography and helpers shared by the LFB and TfL synthesisers (boroughs, weights, wards, months)."""
from __future__ import annotations

import calendar
import csv
import io
import json
import re
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from safestats.synth.calibration import CALIBRATION_PATH

WARDS_PATH = Path(__file__).with_name("london_wards.json")   # WD19 ward codes per borough (ONS, OGL)

# GSS code, name as in seeds/london_boroughs.csv
BOROUGHS = [
    ("E09000001", "City of London"), ("E09000002", "Barking and Dagenham"), ("E09000003", "Barnet"),
    ("E09000004", "Bexley"), ("E09000005", "Brent"), ("E09000006", "Bromley"), ("E09000007", "Camden"),
    ("E09000008", "Croydon"), ("E09000009", "Ealing"), ("E09000010", "Enfield"), ("E09000011", "Greenwich"),
    ("E09000012", "Hackney"), ("E09000013", "Hammersmith and Fulham"), ("E09000014", "Haringey"),
    ("E09000015", "Harrow"), ("E09000016", "Havering"), ("E09000017", "Hillingdon"), ("E09000018", "Hounslow"),
    ("E09000019", "Islington"), ("E09000020", "Kensington and Chelsea"), ("E09000021", "Kingston upon Thames"),
    ("E09000022", "Lambeth"), ("E09000023", "Lewisham"), ("E09000024", "Merton"), ("E09000025", "Newham"),
    ("E09000026", "Redbridge"), ("E09000027", "Richmond upon Thames"), ("E09000028", "Southwark"),
    ("E09000029", "Sutton"), ("E09000030", "Tower Hamlets"), ("E09000031", "Waltham Forest"),
    ("E09000032", "Wandsworth"), ("E09000033", "Westminster"),
]
CODES = [code for code, _ in BOROUGHS]
NAMES = dict(BOROUGHS)


@lru_cache(maxsize=1)
def calibration() -> dict:
    return json.loads(CALIBRATION_PATH.read_text())


@lru_cache(maxsize=1)
def population_weights() -> np.ndarray:
    """Share of London's residents per borough, in CODES order (LSOAs hold ~1,500 residents each).
    The City's handful of residents understates its daytime crowd: it counts as 30 LSOAs."""
    boroughs = calibration()["boroughs"]
    counts = np.array([max(boroughs[name]["n_lsoa"], 30 if code == "E09000001" else 0)
                       for code, name in BOROUGHS], dtype=float)
    return counts / counts.sum()


@lru_cache(maxsize=1)
def wards() -> dict[str, list[str]]:
    return json.loads(WARDS_PATH.read_text())


def centroid(code: str) -> tuple[float, float, float, float]:
    b = calibration()["boroughs"][NAMES[code]]
    return b["lat"], b["lon"], b["sd_lat"], b["sd_lon"]


def seasonal(month: str) -> float:
    return calibration()["seasonal_factor"][month[5:]]


def month_index(month: str) -> int:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return int(month[:4]) * 12 + int(month[5:]) - 1


def month_str(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months(first_month: str, last_month: str) -> list[str]:
    start, end = month_index(first_month), month_index(last_month)
    if start > end:
        raise ValueError(f"{first_month} is after {last_month}")
    return [month_str(i) for i in range(start, end + 1)]


def days_in(month: str) -> int:
    return calendar.monthrange(int(month[:4]), int(month[5:]))[1]


def rng_for(seed: int, dataset: str, month: str, scale: float) -> np.random.Generator:
    """One stream per dataset-month, so a month never depends on which range it was made in."""
    key = [seed, zlib.crc32(dataset.encode()), int(month[:4]), int(month[5:]), round(scale * 1e6)]
    return np.random.default_rng(np.random.SeedSequence(key))


def pick(rng: np.random.Generator, options: list, weights, n: int) -> list:
    p = np.asarray(weights, dtype=float)
    return [options[i] for i in rng.choice(len(options), size=n, p=p / p.sum())]


def hours(rng: np.random.Generator, profile, n: int) -> np.ndarray:
    p = np.asarray(profile, dtype=float)
    return rng.choice(24, size=n, p=p / p.sum())


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_text(path: Path, text: str, *, encoding: str = "utf-8", bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path
