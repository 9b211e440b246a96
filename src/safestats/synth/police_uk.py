"""Synthesise police.uk monthly street and outcomes files for the Met, City of London Police and BTP."""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from safestats.synth import Progress
from safestats.synth.calibration import CALIBRATION_PATH

FORCES = {  # file slug -> force name as published
    "metropolitan": "Metropolitan Police Service",
    "city-of-london": "City of London Police",
    "btp": "British Transport Police",
}
WITH_OUTCOMES = ("metropolitan", "city-of-london")  # BTP publishes no outcomes files here
STREET_HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                 "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context"]
OUTCOMES_HEADER = STREET_HEADER[:9] + ["Outcome type"]
ASB = "Anti-social behaviour"

# The geography (LSOAs, map points, stations) is drawn from this fixed seed, not the user's, so extracts made
# with different seeds still share one map and can be joined to each other.
GEO_SEED = 1829
POINTS_PER_LSOA = 8
DUPLICATE_ID_SHARE = 0.001
# Months from a crime to its first outcome, then from charge to court result; outcomes files look back this far.
FIRST_LAG_P = np.array([0.40, 0.25, 0.13, 0.08, 0.06, 0.04, 0.04])
COURT_LAG_MAX = 5
MAX_LAG = len(FIRST_LAG_P) - 1 + COURT_LAG_MAX

NO_EVENT = {"Status update unavailable", "Under investigation"}   # nothing published in an outcomes file
CHARGED = ("Awaiting court outcome", "Court result unavailable")  # charged; no court result published
# Court results follow a "Suspect charged" outcome. "Court result unavailable" means the result never arrived,
# so those crimes publish only the charge.
COURT_RESULTS = {
    "Court case unable to proceed", "Defendant found not guilty",
    "Defendant sent to Crown Court", "Offender sent to prison", "Offender fined", "Offender given community sentence",
    "Offender given conditional discharge", "Offender given suspended prison sentence",
    "Offender otherwise dealt with", "Offender deprived of property", "Offender ordered to pay compensation",
    "Offender given absolute discharge",
}

STREET_ROOTS = [
    "High", "Church", "Station", "Park", "Victoria", "Queen's", "King's", "Mill", "Manor", "Albert", "York",
    "Grove", "Green", "London", "Windsor", "Cedar", "Elm", "Oak", "Beech", "Ash", "Willow", "Chestnut", "Hill",
    "Brook", "Riverside", "Market", "Bridge", "Chapel", "School", "Orchard", "Meadow", "Springfield", "Clarence",
    "Nelson", "Stanley", "Gordon", "Milton", "Howard", "Russell", "Cromwell", "Salisbury", "Palmerston", "Hamilton",
    "Carlton", "Belmont", "Fairfield", "Highfield", "Woodland", "Kingsway", "Broadway", "Crown", "Sussex", "Kent",
    "Essex", "Surrey", "Denmark", "Lancaster", "Warwick", "Devonshire", "Bedford", "Cambridge", "Oxford",
]
STREET_KINDS = ["Street", "Road", "Lane", "Avenue", "Close", "Gardens", "Way", "Crescent", "Place", "Terrace",
                "Drive", "Walk", "Square", "Mews", "Rise", "Court"]
PLACE_KINDS = ["Supermarket", "Parking Area", "Petrol Station", "Shopping Area", "Nightclub", "Hospital",
               "Sports/Recreation Area", "Further/Higher Educational Building", "Theatre/Concert Hall",
               "Police Station", "Bus/Coach Station", "Conference/Exhibition Centre"]
STATION_ROOTS = ["Ash", "Oak", "Mill", "Brook", "Elm", "Stone", "Church", "Bridge", "Wood", "Hill", "Marsh",
                 "Kings", "Queens", "Park", "North", "South", "West", "East", "Green", "Lea", "Water", "Bell"]
STATION_ENDS = ["ton", " Park", " Junction", " Green", " Road", " Central", " Hill", "field", " Cross", " Lane",
                "wood", " Broadway", " Common", "ford", " Vale"]
DISTRICT_STATION_ENDS = ["", " Central", " Parkway", " North", " South", " East", " West", " Road", " Junction"]


def load_calibration(path: Path = CALIBRATION_PATH) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass
class Geography:
    """Every anonymised map point a row can sit on, as the five strings the files print, plus sort order."""
    points: list[tuple[str, str, str, str, str]]  # (Longitude, Latitude, Location, LSOA code, LSOA name)
    point_text: list[str]         # the same five fields as CSV text
    rank: np.ndarray              # sort rank of each point: by LSOA name, blank LSOAs last
    no_location: int              # index of the "No Location" point
    borough_lsoas: dict[str, np.ndarray]    # London borough -> its LSOA indices
    lsoa_weight: np.ndarray       # relative crime weight of each LSOA (hot spots)
    lsoa_xy: np.ndarray           # (lat, lon) centre of each LSOA
    neighbour_lsoas: np.ndarray   # LSOAs just outside London (Met spill-over)
    stations: np.ndarray          # point index of each BTP station
    station_weight: np.ndarray


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def _q(field: str) -> str:
    """One field as csv.QUOTE_MINIMAL writes it; the files are built as text because csv.writer is the bottleneck."""
    if any(ch in field for ch in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


def _line(fields) -> str:
    return ",".join(_q(f) for f in fields) + "\n"


def _lsoa_names(prefix: str, n: int) -> list[str]:
    """Real-style '<LA> 001A' names: LSOAs grouped 4-6 to an MSOA number, lettered within it."""
    n_msoa = max(1, round(n / 4.9))
    names, letter = [], {}
    for i in range(n):
        msoa = i * n_msoa // n + 1
        k = letter.get(msoa, 0)
        letter[msoa] = k + 1
        names.append(f"{prefix} {msoa:03d}{chr(65 + k)}")
    return names


class _GeographyBuilder:
    """Lays out the synthetic map once: LSOAs with real-style names, their snap points, and BTP stations."""

    def __init__(self, cal: dict):
        self.cal = cal
        self.rng = np.random.default_rng(GEO_SEED)
        self.lsoa_names: list[str] = []
        self.lsoa_codes: list[str] = []
        self.centres: list[tuple[float, float]] = []
        self.weights: list[float] = []
        self.points: list[tuple[str, str, str, str, str]] = []
        self.stations: list[int] = []
        self.station_w: list[float] = []
        self.districts = sorted(set(cal["met"]["neighbour_districts"]) | set(cal["btp"]["district_share"]))
        self.district_names: dict[str, list[str]] = {}  # a district can be both a Met neighbour and a BTP one

    def add_lsoas(self, names, codes, lat, lon, sd_lat, sd_lon) -> np.ndarray:
        z = np.clip(self.rng.standard_normal((len(names), 2)), -2.2, 2.2)
        first = len(self.lsoa_names)
        self.lsoa_names.extend(names)
        self.lsoa_codes.extend(codes)
        self.centres.extend(zip(lat + z[:, 0] * sd_lat, lon + z[:, 1] * sd_lon))
        self.weights.extend(self.rng.lognormal(0.0, 0.7, len(names)))  # a few busy LSOAs, many quiet ones
        return np.arange(first, len(self.lsoa_names))

    def london(self) -> dict[str, np.ndarray]:
        out = {}
        for b_idx, (borough, g) in enumerate(self.cal["boroughs"].items()):
            if borough == "City of London":  # the real-looking 001A..001G set, weighted as in the real files
                names = [f"{borough} {s}" for s in self.cal["city"]["lsoa_share"]]
            else:
                names = _lsoa_names(borough, g["n_lsoa"])
            codes = [f"E019{b_idx:02d}{i:03d}" for i in range(len(names))]  # 'E019...' is no real London range
            out[borough] = self.add_lsoas(names, codes, g["lat"], g["lon"], g["sd_lat"], g["sd_lon"])
        for i, share in zip(out["City of London"], self.cal["city"]["lsoa_share"].values()):
            self.weights[i] = max(share, 0.002)
        return out

    def district(self, name: str, n: int, lat: float, lon: float, sd: float) -> np.ndarray:
        """n more LSOAs of a local authority outside London, named '<LA> 017C' at random, never twice."""
        taken, names = self.district_names.setdefault(name, []), []
        while len(names) < n:
            candidate = f"{name} {int(self.rng.integers(1, 60)):03d}{chr(65 + int(self.rng.integers(0, 5)))}"
            if candidate not in taken:
                taken.append(candidate)
                names.append(candidate)
        country = "W01" if name in self.cal["btp"]["welsh_districts"] else "E01"
        d_idx, first = self.districts.index(name), len(taken) - n
        codes = [f"{country}8{d_idx:03d}{first + j:02d}" for j in range(n)]
        return self.add_lsoas(names, codes, lat, lon, sd, sd * 1.6)

    def street_points(self, city: np.ndarray) -> None:
        """POINTS_PER_LSOA snap points per LSOA made so far: LSOA i owns points i*K .. i*K+K-1."""
        rng, n, k = self.rng, len(self.lsoa_names), POINTS_PER_LSOA
        jitter = rng.standard_normal((n, k, 2)) * np.array([0.0022, 0.0035])
        jitter[city] *= 0.4  # the City's LSOAs are tiny
        xy = np.array(self.centres)[:, None, :] + jitter
        roots, kinds = rng.integers(0, len(STREET_ROOTS), (n, k)), rng.integers(0, len(STREET_KINDS), (n, k))
        place, place_kind = rng.random((n, k)) < 0.1, rng.integers(0, len(PLACE_KINDS), (n, k))
        for i in range(n):
            for j in range(k):
                where = PLACE_KINDS[place_kind[i, j]] if place[i, j] else \
                    f"{STREET_ROOTS[roots[i, j]]} {STREET_KINDS[kinds[i, j]]}"
                lat, lon = xy[i, j]
                self.points.append((_fmt(lon), _fmt(lat), f"On or near {where}", self.lsoa_codes[i],
                                    self.lsoa_names[i]))

    def add_station(self, name, lat, lon, lsoa: int | None, weight: float) -> None:
        self.stations.append(len(self.points))
        code, lsoa_name = (self.lsoa_codes[lsoa], self.lsoa_names[lsoa]) if lsoa is not None else ("", "")
        self.points.append((_fmt(lon), _fmt(lat), f"On or near {name} (Station)", code, lsoa_name))
        self.station_w.append(weight)

    def btp_stations(self, borough_lsoas: dict[str, np.ndarray]) -> None:
        """London stations sit in a borough LSOA, others in LSOAs of their district; Scottish ones have
        coordinates but no LSOA (outside England and Wales). Weights add up to the calibrated shares."""
        btp, rng = self.cal["btp"], self.rng
        for borough, share in btp["london_borough_share"].items():
            n = int(np.clip(round(share * 60), 1, 12))
            w = rng.dirichlet(np.ones(n) * 0.8) * share * btp["london_share"]
            for j, lsoa in enumerate(rng.choice(borough_lsoas[borough], size=n)):
                lat, lon = np.array(self.centres[lsoa]) + rng.standard_normal(2) * 0.001
                name = STATION_ROOTS[rng.integers(len(STATION_ROOTS))] + STATION_ENDS[rng.integers(len(STATION_ENDS))]
                self.add_station(name, lat, lon, int(lsoa), w[j])
        elsewhere = 1.0 - btp["london_share"] - btp["scotland_share"]
        for district, share in btp["district_share"].items():
            n = int(np.clip(round(share * 150), 1, len(DISTRICT_STATION_ENDS)))
            c = btp["district_centroid"][district]
            w = rng.dirichlet(np.ones(n)) * share * elsewhere
            for j, lsoa in enumerate(self.district(district, n, c["lat"], c["lon"], 0.02)):
                lat, lon = self.centres[lsoa]
                self.add_station(f"{district}{DISTRICT_STATION_ENDS[j]}", lat, lon, int(lsoa), w[j])
        for town, p in btp["scottish_places"].items():
            for end in DISTRICT_STATION_ENDS[:3]:
                lat, lon = p["lat"] + rng.normal(0, 0.01), p["lon"] + rng.normal(0, 0.015)
                self.add_station(f"{town}{end}", lat, lon, None, p["share"] * btp["scotland_share"] / 3)

    def build(self) -> Geography:
        boroughs = self.london()
        neighbour = np.concatenate([self.district(d, 5, c["lat"], c["lon"], 0.015)
                                    for d, c in self.cal["met"]["neighbour_districts"].items()])
        self.street_points(boroughs["City of London"])  # before station-only LSOAs, which get no snap points
        self.btp_stations(boroughs)
        no_location = len(self.points)
        self.points.append(("", "", "No Location", "", ""))
        # police.uk files are ordered by LSOA name, with the rows that have no LSOA at the end
        pts = self.points
        order = sorted(range(len(pts)), key=lambda i: (pts[i][4] == "", pts[i][4], i))
        rank = np.empty(len(pts), dtype=np.int64)
        rank[order] = np.arange(len(pts))
        sw = np.array(self.station_w)
        return Geography(pts, [_line(p)[:-1] for p in pts], rank, no_location, boroughs, np.array(self.weights),
                         np.array(self.centres), neighbour, np.array(self.stations), sw / sw.sum())


@lru_cache(maxsize=4)
def geography(calibration_path: Path = CALIBRATION_PATH) -> Geography:
    return _GeographyBuilder(load_calibration(calibration_path)).build()


# --- one force-month of crimes ---------------------------------------------------------------------------

@dataclass
class MonthCrimes:
    month: str
    point: np.ndarray    # geography point per crime
    ctype: np.ndarray    # index into crime types
    status: np.ndarray   # index into statuses (final outcome); -1 = none published (ASB, BTP)
    lag1: np.ndarray     # months to the first outcome
    lag2: np.ndarray     # months from charge to court result
    dup: np.ndarray      # crimes that appear twice in the street file, the copy with another outcome
    dup_status: np.ndarray


def _month_index(month: str) -> int:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    return int(month[:4]) * 12 + int(month[5:]) - 1


def _month_str(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def expected_rows(force: str, month: str, scale: float = 1.0, cal: dict | None = None) -> float:
    """Mean street rows for a force-month (the generator draws a Poisson count around it)."""
    cal = cal or load_calibration()
    key = {"metropolitan": "met", "city-of-london": "city", "btp": "btp"}[force]
    return cal[key]["rows_per_month"] * cal["seasonal_factor"][month[5:]] * scale


class Synthesiser:
    def __init__(self, seed: int = 42, scale: float = 1.0, calibration_path: Path = CALIBRATION_PATH):
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.seed, self.scale = int(seed), float(scale)
        self.cal = load_calibration(calibration_path)
        self.geo = geography(calibration_path)
        self.types = self.cal["crime_types"]
        shares = self.cal["last_outcome_share"]
        self.statuses = sorted({s for mix in shares.values() for s in mix})
        self.status_p = np.zeros((len(self.types), len(self.statuses)))
        for t, mix in shares.items():
            row = np.array([mix.get(s, 0.0) for s in self.statuses])
            self.status_p[self.types.index(t)] = row / row.sum()
        self._cache: dict[tuple[str, int], MonthCrimes] = {}
        self._near_city: dict[str, np.ndarray] = {}

    def _rng(self, force: str, month: str) -> np.random.Generator:
        # every force-month has its own stream, so a month never depends on which range it was made in
        key = [self.seed, list(FORCES).index(force), int(month[:4]), int(month[5:]), round(self.scale * 1e6)]
        return np.random.default_rng(np.random.SeedSequence(key))

    def crimes(self, force: str, month: str) -> MonthCrimes:
        key = (force, _month_index(month))
        if key not in self._cache:
            self._cache[key] = self._generate(force, month)
        return self._cache[key]

    def _pick_lsoas(self, rng, lsoas: np.ndarray, n: int) -> np.ndarray:
        w = self.geo.lsoa_weight[lsoas]
        return rng.choice(lsoas, size=n, p=w / w.sum())

    def _points_of(self, rng, lsoas: np.ndarray) -> np.ndarray:
        return lsoas * POINTS_PER_LSOA + rng.integers(0, POINTS_PER_LSOA, len(lsoas))

    def _generate(self, force: str, month: str) -> MonthCrimes:
        rng = self._rng(force, month)
        n = int(rng.poisson(expected_rows(force, month, self.scale, self.cal)))
        place = {"metropolitan": self._met, "city-of-london": self._city, "btp": self._btp}[force]
        point, ctype = place(rng, n)
        status = np.full(n, -1, dtype=np.int64)
        if force in WITH_OUTCOMES:
            for t, name in enumerate(self.types):
                if name != ASB:  # ASB never gets an outcome
                    sel = ctype == t
                    status[sel] = rng.choice(len(self.statuses), size=int(sel.sum()), p=self.status_p[t])
        lag1 = rng.choice(len(FIRST_LAG_P), size=n, p=FIRST_LAG_P)
        lag2 = rng.integers(1, COURT_LAG_MAX + 1, size=n)
        dup = np.flatnonzero((rng.random(n) < DUPLICATE_ID_SHARE) & (status >= 0))
        unavailable = self.statuses.index("Status update unavailable")
        no_suspect = self.statuses.index("Investigation complete; no suspect identified")
        dup_status = np.where(status[dup] == unavailable, no_suspect, unavailable)
        return MonthCrimes(month, point, ctype, status, lag1, lag2, dup, dup_status)

    def _met(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Borough x crime type from the MPS aggregates; a few rows with no location or just outside London."""
        met, geo = self.cal["met"], self.geo
        boroughs = list(met["borough_type_share"])
        cells = np.array([[met["borough_type_share"][b].get(t, 0.0) for t in self.types] for b in boroughs])
        borough_share = cells.sum(axis=1) / cells.sum()
        cells = cells / cells.sum() * (1 - met["asb_share"])
        cells[:, self.types.index(ASB)] = met["asb_share"] * borough_share  # ASB follows recorded crime
        counts = rng.multinomial(n, (cells / cells.sum()).ravel())
        cell = np.repeat(np.arange(cells.size), counts)
        borough, ctype = cell // len(self.types), cell % len(self.types)
        point = np.full(n, geo.no_location, dtype=np.int64)
        u, no_loc, outside = rng.random(n), met["no_location_share"], met["out_of_london_share"]
        off = (u >= no_loc) & (u < no_loc + outside)
        on = u >= no_loc + outside
        point[off] = self._points_of(rng, rng.choice(geo.neighbour_lsoas, size=int(off.sum())))
        for b_idx, b in enumerate(boroughs):
            sel = on & (borough == b_idx)
            point[sel] = self._points_of(rng, self._pick_lsoas(rng, geo.borough_lsoas[b], int(sel.sum())))
        return point, ctype

    def _city(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Mostly the City's own LSOAs; some rows just over its edge in neighbouring boroughs."""
        city, geo = self.cal["city"], self.geo
        ctype = rng.choice(len(self.types), size=n, p=_norm([city["type_share"][t] for t in self.types]))
        point = np.full(n, geo.no_location, dtype=np.int64)
        u, no_loc, spill = rng.random(n), city["no_location_share"], city["neighbour_share"]
        nb = (u >= no_loc) & (u < no_loc + spill)
        on = u >= no_loc + spill
        point[on] = self._points_of(rng, self._pick_lsoas(rng, geo.borough_lsoas["City of London"], int(on.sum())))
        nb_names = list(city["neighbour_borough_share"])
        which = rng.choice(len(nb_names), size=int(nb.sum()), p=_norm(city["neighbour_borough_share"].values()))
        near = [self._nearest_to_city(b) for b in nb_names]
        lsoas = np.array([near[w][rng.integers(len(near[w]))] for w in which], dtype=np.int64)
        point[nb] = self._points_of(rng, lsoas)
        return point, ctype

    def _btp(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """National: every row at a station, about half of them in London."""
        btp = self.cal["btp"]
        ctype = rng.choice(len(self.types), size=n, p=_norm([btp["type_share"][t] for t in self.types]))
        point = self.geo.stations[rng.choice(len(self.geo.stations), size=n, p=self.geo.station_weight)]
        return point, ctype

    def _nearest_to_city(self, borough: str, k: int = 4) -> np.ndarray:
        """The borough's LSOAs closest to the City: City of London Police rows spill over its edge."""
        if borough in self._near_city:
            return self._near_city[borough]
        lsoas = self.geo.borough_lsoas[borough]
        city = self.geo.lsoa_xy[self.geo.borough_lsoas["City of London"]].mean(axis=0)
        d = ((self.geo.lsoa_xy[lsoas] - city) * [1.0, math.cos(math.radians(51.5))]) ** 2
        self._near_city[borough] = lsoas[np.argsort(d.sum(axis=1))[:k]]
        return self._near_city[borough]

    def crime_ids(self, force: str, month: str, serials: np.ndarray) -> list[str]:
        if force == "btp":  # BTP publishes no crime ids
            return [""] * len(serials)
        prefix = f"{self.seed}:{self.scale!r}:{force}:{month}:"
        return [hashlib.sha256(f"{prefix}{s}".encode()).hexdigest() for s in serials.tolist()]

    # --- file contents -----------------------------------------------------------------------------------

    def street_lines(self, force: str, month: str) -> list[str]:
        c = self.crimes(force, month)
        n = len(c.point)
        serial = np.concatenate([np.arange(n), c.dup])
        status = np.concatenate([c.status, c.dup_status])
        is_copy = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(len(c.dup), dtype=np.int64)])
        point, ctype = c.point[serial], c.ctype[serial]
        order = np.lexsort((is_copy, serial, ctype, self.geo.rank[point]))
        serial, status, point, ctype = serial[order], status[order], point[order], ctype[order]
        has_id = status >= 0  # ASB and BTP rows have neither id nor outcome
        ids = np.array([""] * len(serial), dtype=object)
        ids[has_id] = self.crime_ids(force, month, serial[has_id])
        head = _line([month, FORCES[force], FORCES[force]])[:-1]
        pts, types = self.geo.point_text, [_q(t) for t in self.types]
        labels = [_q(s) for s in self.statuses] + [""]  # status -1 -> ""
        return [f"{i},{head},{pts[p]},{types[t]},{labels[s]},\n"  # Context is always empty
                for i, p, t, s in zip(ids.tolist(), point.tolist(), ctype.tolist(), status.tolist())]

    def outcome_lines(self, force: str, month: str) -> list[str]:
        """Outcomes given in `month` to this force's crimes of that month and up to MAX_LAG months before."""
        target = _month_index(month)
        found = []  # (rank, crime month, serial, point, outcome)
        charged = [self.statuses.index(s) for s in CHARGED]
        court = np.array([s in COURT_RESULTS for s in self.statuses] + [False])
        silent = np.array([s in NO_EVENT for s in self.statuses] + [True])
        for lag in range(MAX_LAG + 1):
            c = self.crimes(force, _month_str(target - lag))
            has_first = ~silent[c.status]
            first = np.flatnonzero(has_first & (c.lag1 == lag))
            second = np.flatnonzero(court[c.status] & (c.lag1 + c.lag2 == lag))
            # a charged crime shows "Suspect charged" first, its court result later
            first_label = np.where(court[c.status[first]] | np.isin(c.status[first], charged), -2, c.status[first])
            for rows, labels in ((first, first_label), (second, c.status[second])):
                ids = self.crime_ids(force, c.month, rows)
                points = c.point[rows]
                found.extend(zip(self.geo.rank[points].tolist(), [-lag] * len(rows), rows.tolist(),
                                 points.tolist(), ids, labels.tolist()))
        found.sort()  # like the street files: by LSOA name, no-LSOA rows last; older crimes first
        head = _line([month, FORCES[force], FORCES[force]])[:-1]
        pts = self.geo.point_text
        labels = {-2: "Suspect charged", **{k: _q(s) for k, s in enumerate(self.statuses)}}
        return [f"{cid},{head},{pts[p]},{labels[lab]}\n" for _, _, _, p, cid, lab in found]


def _norm(values) -> np.ndarray:
    a = np.asarray(list(values), dtype=float)
    return a / a.sum()


def _write(path: Path, header: list[str], lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:  # UTF-8, LF, no BOM
        fh.write(_line(header))
        fh.writelines(lines)


def synthesise_police_uk(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
                         progress: Progress | None = None) -> list[Path]:
    """Write police.uk street (all three forces) and outcomes (Met, City) files for every month in the range."""
    start, end = _month_index(first_month), _month_index(last_month)
    if start > end:
        raise ValueError(f"{first_month} is after {last_month}")
    synth, out_dir, written = Synthesiser(seed, scale), Path(out_dir), []
    for index in range(start, end + 1):
        month = _month_str(index)
        jobs = [(f, "street", STREET_HEADER, synth.street_lines) for f in FORCES]
        jobs += [(f, "outcomes", OUTCOMES_HEADER, synth.outcome_lines) for f in WITH_OUTCOMES]
        for force, kind, header, make in jobs:
            path = out_dir / month / f"{month}-{force}-{kind}.csv"
            lines = make(force, month)
            _write(path, header, lines)
            written.append(path)
            if progress:
                progress(path, len(lines))
        # crimes older than the outcomes look-back are no longer needed
        for key in [k for k in synth._cache if k[1] < index - MAX_LAG]:
            del synth._cache[key]
    return written


synthesise = synthesise_police_uk   # the generator registry's entry point (safestats.synth.generators)
