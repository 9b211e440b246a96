"""Derive calibration.json (volumes, mixes, centroids, seasonality) for the police.uk synthesiser from real data."""
from __future__ import annotations

import csv
import glob
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
BOROUGHS_SEED = Path(__file__).resolve().parents[3] / "seeds" / "london_boroughs.csv"

# MPS borough-level categories -> police.uk crime types. Keys are upper-cased because the older vintages use
# Title Case. Minor categories are looked up first; the major category is the fallback. None = not published
# on police.uk (fraud is recorded by Action Fraud/NFIB, not by the force).
MPS_MINOR_TO_POLICE_UK = {
    "BICYCLE THEFT": "Bicycle theft",
    "THEFT/TAKING OF PEDAL CYCLE": "Bicycle theft",
    "SHOPLIFTING": "Shoplifting",
    "THEFT FROM SHOPS": "Shoplifting",
    "THEFT FROM THE PERSON": "Theft from the person",
    "OTHER THEFT PERSON": "Theft from the person",
    "OTHER THEFT": "Other theft",
    "HANDLING STOLEN GOODS": "Other crime",
    "GOING EQUIPPED": "Other crime",
    "OFFENSIVE WEAPON": "Possession of weapons",
}
MPS_MAJOR_TO_POLICE_UK = {
    "ARSON AND CRIMINAL DAMAGE": "Criminal damage and arson",
    "CRIMINAL DAMAGE": "Criminal damage and arson",
    "BURGLARY": "Burglary",
    "DRUG OFFENCES": "Drugs",
    "DRUGS": "Drugs",
    "MISCELLANEOUS CRIMES AGAINST SOCIETY": "Other crime",
    "OTHER NOTIFIABLE OFFENCES": "Other crime",
    "POSSESSION OF WEAPONS": "Possession of weapons",
    "PUBLIC ORDER OFFENCES": "Public order",
    "ROBBERY": "Robbery",
    "SEXUAL OFFENCES": "Violence and sexual offences",
    "VIOLENCE AGAINST THE PERSON": "Violence and sexual offences",
    "THEFT": "Other theft",
    "THEFT AND HANDLING": "Other theft",
    "VEHICLE OFFENCES": "Vehicle crime",
    "FRAUD AND FORGERY": None,
    "NFIB FRAUD": None,
}
# The aggregates' pseudo-boroughs: Heathrow lies in Hillingdon (London City Airport, the smaller part, in
# Newham); "Unknown" has no place, so it is dropped.
MPS_BOROUGH_ALIASES = {"London Heathrow and London City Airports": "Hillingdon"}

CRIME_TYPES = [
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs", "Other crime",
    "Other theft", "Possession of weapons", "Public order", "Robbery", "Shoplifting", "Theft from the person",
    "Vehicle crime", "Violence and sexual offences",
]

# Not derivable from the files at hand, so stated here (see the notes in calibration.json):
MET_ROWS_PER_MONTH = 85_000      # brief's 75-95k band; the full 2019-01 Met file had ~90k rows (realdata README)
MET_ASB_SHARE = 0.25             # police.uk ASB share of Met rows (the aggregates carry no ASB)
MET_OUT_OF_LONDON_SHARE = 0.003  # Met rows whose point falls just outside London
TOTAL_LONDON_LSOAS = 4_800
CITY_LSOA_SUFFIXES = ["001A", "001B", "001C", "001E", "001F", "001G"]
# Districts bordering London where Met points spill over; approximate centroids used when the real files do not
# place the district often enough to average.
NEIGHBOUR_DISTRICTS = {
    "Epping Forest": (51.69, 0.11), "Elmbridge": (51.37, -0.38), "Dartford": (51.44, 0.22),
    "Spelthorne": (51.43, -0.49), "Broxbourne": (51.73, -0.03), "Thurrock": (51.49, 0.34),
    "Reigate and Banstead": (51.27, -0.20), "Epsom and Ewell": (51.34, -0.26), "Hertsmere": (51.66, -0.30),
    "Three Rivers": (51.64, -0.45), "Sevenoaks": (51.30, 0.17), "Tandridge": (51.25, -0.03),
    "Slough": (51.51, -0.59), "Brentwood": (51.62, 0.30),
}
WELSH_DISTRICTS = {
    "Blaenau Gwent", "Bridgend", "Caerphilly", "Cardiff", "Carmarthenshire", "Ceredigion", "Conwy", "Denbighshire",
    "Flintshire", "Gwynedd", "Isle of Anglesey", "Merthyr Tydfil", "Monmouthshire", "Neath Port Talbot", "Newport",
    "Pembrokeshire", "Powys", "Rhondda Cynon Taf", "Swansea", "Torfaen", "Vale of Glamorgan", "Wrexham",
}
# BTP rows at Scottish stations carry coordinates but no LSOA; the files only show that they exist, so the
# spread over Scottish towns (approximate centroids, rough shares) is stated here.
SCOTTISH_PLACES = {
    "Glasgow": (55.861, -4.257, 0.42), "Edinburgh": (55.952, -3.189, 0.25), "Paisley": (55.847, -4.424, 0.07),
    "Aberdeen": (57.144, -2.099, 0.07), "Dundee": (56.463, -2.971, 0.05), "Stirling": (56.120, -3.936, 0.05),
    "Perth": (56.392, -3.437, 0.05), "Inverness": (57.480, -4.223, 0.04),
}
COVID_YEARS = {2020, 2021}       # lockdown months distort seasonality and volumes


def london_boroughs(seed_csv: Path = BOROUGHS_SEED) -> list[str]:
    with open(seed_csv, encoding="utf-8-sig", newline="") as fh:
        return [r["borough_name"] for r in csv.DictReader(fh)]


def _num(text: str) -> float:
    text = (text or "").strip()
    return float(text) if text else 0.0


def police_uk_type(major: str, minor: str) -> str | None:
    minor_u, major_u = minor.strip().upper(), major.strip().upper()
    if minor_u in MPS_MINOR_TO_POLICE_UK:
        return MPS_MINOR_TO_POLICE_UK[minor_u]
    if major_u not in MPS_MAJOR_TO_POLICE_UK:
        raise ValueError(f"unmapped MPS category {major!r}/{minor!r}: add it to the mapping")
    return MPS_MAJOR_TO_POLICE_UK[major_u]


def read_mps_aggregates(directory: Path) -> dict[str, dict[tuple[str, str], float]]:
    """month (YYYYMM) -> (borough, police.uk type) -> count; a month in several vintages comes from the newest."""
    by_month: dict[str, dict[tuple[str, str], float]] = {}
    vintages = []
    for path in sorted(directory.glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        months = [k for k in rows[0] if k.strip().isdigit() and len(k.strip()) == 6]
        vintages.append((max(months), path, rows, months))
    for _, _, rows, months in sorted(vintages):  # newest vintage last, so it wins
        for month in months:
            counts: dict[tuple[str, str], float] = defaultdict(float)
            for r in rows:
                borough = (r.get("BoroughName") or r.get("LookUp_BoroughName") or "").strip()
                borough = MPS_BOROUGH_ALIASES.get(borough, borough)
                ctype = police_uk_type(r["MajorText"], r["MinorText"])
                if ctype and borough != "Unknown":
                    counts[(borough, ctype)] += _num(r[month])
            by_month[month] = counts
    return by_month


def seasonal_factors(by_month: dict[str, dict]) -> dict[str, float]:
    """Month-of-year factor (mean 1) averaged over complete, non-covid calendar years."""
    totals = {m: sum(c.values()) for m, c in by_month.items()}
    years = sorted({m[:4] for m in totals if int(m[:4]) not in COVID_YEARS})
    ratios = defaultdict(list)
    for y in years:
        months = [f"{y}{i:02d}" for i in range(1, 13)]
        if all(totals.get(m) for m in months):
            mean = sum(totals[m] for m in months) / 12
            for i, m in enumerate(months, 1):
                ratios[f"{i:02d}"].append(totals[m] / mean)
    factors = {k: sum(v) / len(v) for k, v in sorted(ratios.items())}
    norm = sum(factors.values()) / 12
    return {k: round(v / norm, 4) for k, v in factors.items()}


def read_street_files(police_dir: Path) -> dict[str, list[dict]]:
    """force slug -> rows of every police.uk street file in the tree."""
    out: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(glob.glob(str(police_dir / "**" / "*-street*.csv"), recursive=True)):
        name = Path(path).name
        slug = "btp" if "-btp-" in name else "city" if "city-of-london" in name else "met"
        with open(path, encoding="utf-8-sig", newline="") as fh:
            out[slug].extend(csv.DictReader(fh))
    return out


def _prefix(lsoa_name: str) -> str:
    return lsoa_name[:-5] if lsoa_name else ""


def _shares(counter: Counter, keys=None, digits: int = 6) -> dict[str, float]:
    keys = list(keys) if keys is not None else sorted(counter)
    total = sum(counter[k] for k in keys) or 1
    return {k: round(counter[k] / total, digits) for k in keys}


def _month_mean(rows: list[dict], seasonal: dict[str, float]) -> float:
    """Seasonally adjusted mean rows per month, ignoring covid years."""
    per_month = Counter(r["Month"] for r in rows)
    adj = [n / seasonal[m[5:7]] for m, n in per_month.items() if int(m[:4]) not in COVID_YEARS]
    return sum(adj) / len(adj)


def centroids(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Average point and spread per LSOA-name prefix (= local authority)."""
    pts = defaultdict(list)
    for r in rows:
        if r["LSOA name"] and r["Latitude"]:
            pts[_prefix(r["LSOA name"])].append((float(r["Latitude"]), float(r["Longitude"])))
    out = {}
    for name, p in sorted(pts.items()):
        lat = sum(a for a, _ in p) / len(p)
        lon = sum(b for _, b in p) / len(p)
        sd_lat = math.sqrt(sum((a - lat) ** 2 for a, _ in p) / len(p))
        sd_lon = math.sqrt(sum((b - lon) ** 2 for _, b in p) / len(p))
        out[name] = {"lat": round(lat, 5), "lon": round(lon, 5), "sd_lat": round(sd_lat, 5),
                     "sd_lon": round(sd_lon, 5), "n": len(p)}
    return out


def outcome_shares(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per crime type, the mix of Last outcome category; sparse types are shrunk towards the overall mix."""
    overall, by_type = Counter(), defaultdict(Counter)
    for r in rows:
        if r["Crime type"] != "Anti-social behaviour" and r["Last outcome category"]:
            overall[r["Last outcome category"]] += 1
            by_type[r["Crime type"]][r["Last outcome category"]] += 1
    total = sum(overall.values())
    prior_weight = 200  # rows' worth of the overall mix added to each type
    out = {}
    for ctype in CRIME_TYPES[1:]:
        c = by_type[ctype]
        n = sum(c.values())
        mix = {k: (c[k] + prior_weight * overall[k] / total) / (n + prior_weight) for k in overall}
        out[ctype] = {k: round(v, 5) for k, v in sorted(mix.items()) if v >= 5e-5}
    return out


def build_calibration(realdata_dir: Path | str, boroughs_csv: Path = BOROUGHS_SEED) -> dict:
    realdata_dir = Path(realdata_dir)
    boroughs = london_boroughs(boroughs_csv)
    met_boroughs = [b for b in boroughs if b != "City of London"]  # the Met does not police the City

    by_month = read_mps_aggregates(realdata_dir / "mps_aggregates")
    seasonal = seasonal_factors(by_month)
    recent = sorted(by_month)[-12:]
    cell = Counter()
    for m in recent:
        for (b, t), v in by_month[m].items():
            cell[(b, t)] += v
    unknown = {b for b, _ in cell} - set(met_boroughs)
    if unknown:
        raise ValueError(f"MPS boroughs not in the seed: {sorted(unknown)}")
    total = sum(cell.values())
    met_cells = {b: {t: round(cell[(b, t)] / total, 7) for t in CRIME_TYPES[1:]} for b in met_boroughs}

    street = read_street_files(realdata_dir / "police_uk")
    all_rows = [r for rows in street.values() for r in rows]
    cents = centroids(all_rows)
    missing = [b for b in boroughs if b not in cents]
    if missing:
        raise ValueError(f"no police.uk points for {missing}")

    pop = {}
    with open(realdata_dir / "lookups" / "andyxue_borough_population_2023-2024.csv", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            pop[r["Area name"].strip()] = _num(r["2024_Population"].replace(",", ""))
    pop_total = sum(pop[b] for b in boroughs)
    borough_geo = {}
    for b in boroughs:
        c = cents[b]
        n_lsoa = max(len(CITY_LSOA_SUFFIXES), round(TOTAL_LONDON_LSOAS * pop[b] / pop_total))
        # spreads from a few station points would be too tight; keep them within sane borough sizes
        borough_geo[b] = {"lat": c["lat"], "lon": c["lon"], "sd_lat": round(min(max(c["sd_lat"], 0.012), 0.05), 5),
                          "sd_lon": round(min(max(c["sd_lon"], 0.018), 0.08), 5), "n_lsoa": n_lsoa}
    borough_geo["City of London"].update(sd_lat=0.004, sd_lon=0.008)

    neighbours = {}
    for name, (lat, lon) in NEIGHBOUR_DISTRICTS.items():
        c = cents.get(name)
        neighbours[name] = {"lat": c["lat"], "lon": c["lon"]} if c and c["n"] >= 3 else {"lat": lat, "lon": lon}

    met_rows = street["met"]
    met_no_location = sum(1 for r in met_rows if r["Location"] == "No Location") / len(met_rows)

    city_rows = street["city"]
    city_located = [r for r in city_rows if r["LSOA name"]]
    city_own = Counter(r["LSOA name"][-4:] for r in city_located if _prefix(r["LSOA name"]) == "City of London")
    city_nb = Counter(_prefix(r["LSOA name"]) for r in city_located
                      if _prefix(r["LSOA name"]) in boroughs and _prefix(r["LSOA name"]) != "City of London")
    city = {
        "rows_per_month": round(_month_mean(city_rows, seasonal), 1),
        "type_share": _shares(Counter(r["Crime type"] for r in city_rows), CRIME_TYPES),
        "no_location_share": round(sum(1 for r in city_rows if r["Location"] == "No Location") / len(city_rows), 5),
        "neighbour_share": round(sum(city_nb.values()) / len(city_located), 5),
        "neighbour_borough_share": _shares(city_nb),
        "lsoa_share": _shares(city_own, CITY_LSOA_SUFFIXES),
    }

    btp_rows = street["btp"]
    btp_places = Counter(_prefix(r["LSOA name"]) for r in btp_rows)
    scotland = btp_places.pop("", 0)
    london = Counter({k: v for k, v in btp_places.items() if k in boroughs})
    elsewhere = Counter({k: v for k, v in btp_places.items() if k not in boroughs})
    btp = {
        "rows_per_month": round(_month_mean(btp_rows, seasonal), 1),
        "type_share": _shares(Counter(r["Crime type"] for r in btp_rows), CRIME_TYPES),
        "london_share": round(sum(london.values()) / len(btp_rows), 5),
        "scotland_share": round(scotland / len(btp_rows), 5),
        "london_borough_share": _shares(london, boroughs),
        "district_share": _shares(elsewhere),
        "district_centroid": {k: {"lat": cents[k]["lat"], "lon": cents[k]["lon"]} for k in sorted(elsewhere)},
        "welsh_districts": sorted(WELSH_DISTRICTS & set(elsewhere)),
        "scottish_places": {k: {"lat": a, "lon": b, "share": w} for k, (a, b, w) in SCOTTISH_PLACES.items()},
    }

    return {
        "notes": [
            "Derived summary numbers only (shares, means, centroids); no real rows are copied.",
            "Sources: MPS borough-level crime aggregates (latest 12 months for shares, complete non-covid years for "
            "seasonality); police.uk street files (centroids, City/BTP mixes and volumes, outcome mixes); "
            "ONS/GLA borough population 2024 (LSOAs per borough).",
            f"Stated, not derived: Met rows/month {MET_ROWS_PER_MONTH}, Met ASB share {MET_ASB_SHARE}, Met "
            f"out-of-London share {MET_OUT_OF_LONDON_SHARE}, ~{TOTAL_LONDON_LSOAS} London LSOAs, neighbour-district "
            "and Scottish-town centroids.",
        ],
        "crime_types": CRIME_TYPES,
        "seasonal_factor": seasonal,
        "boroughs": borough_geo,
        "met": {
            "rows_per_month": MET_ROWS_PER_MONTH,
            "asb_share": MET_ASB_SHARE,
            "no_location_share": round(met_no_location, 5),
            "out_of_london_share": MET_OUT_OF_LONDON_SHARE,
            "aggregate_months": [recent[0], recent[-1]],
            "aggregate_crimes_per_month": round(total / len(recent)),
            "borough_type_share": met_cells,
            "neighbour_districts": neighbours,
        },
        "city": city,
        "btp": btp,
        "last_outcome_share": outcome_shares(met_rows + city_rows),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m safestats.synth.calibration REALDATA_DIR", file=sys.stderr)
        return 2
    cal = build_calibration(argv[0])
    CALIBRATION_PATH.write_text(json.dumps(cal, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {CALIBRATION_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
