"""Synthesise Transport for London's monthly files: bus safety (TfL's workbook or its CSV form) and crime on
the TfL network (the SafeStats-defined CSV)."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import numpy as np

from safestats.synth import Progress, london

BUS_DATASET = "tfl_bus_safety_incidents"
CRIME_DATASET = "tfl_network_crimes"
BUS_ROWS_PER_MONTH = 500
CRIME_ROWS_PER_MONTH = 3_000
# Planted invalid rows per file, rejected with their reason: bus safety — a blank date and a date of
# another month; network crime — a blank mode and an impossible date.
BUS_PLANTED_REJECTS = 2
CRIME_PLANTED_REJECTS = 2

BUS_HEADER = ["Year", "Date Of Incident", "Route", "Operator", "Group Name", "Bus Garage", "Borough",
              "Injury Result Description", "Incident Event Type", "Victim Category", "Victims Sex", "Victims Age"]
OPERATORS = [("Metroline", "Metroline", 0.15), ("Arriva London North", "Arriva London", 0.14),
             ("East London", "Stagecoach", 0.10), ("London United", "London United", 0.10),
             ("Selkent", "Stagecoach", 0.08), ("Arriva London South", "Arriva London", 0.08),
             ("London General", "Go-Ahead", 0.08), ("London Central", "Go-Ahead", 0.06),
             ("Metroline West", "Metroline", 0.05), ("Abellio London", "Abellio", 0.04),
             ("Metrobus", "Go-Ahead", 0.04), ("Tower Transit", "Tower Transit", 0.04),
             ("Quality Line", "Quality Line", 0.02), ("CT Plus", "CT Plus", 0.02)]
GARAGES = ["Garage Not Available", "Plumstead", "Holloway", "Cricklewood", "Tottenham", "Camberwell",
           "Fulwell (London United)", "Lea Interchange", "Catford", "New Cross", "Stockwell", "Croydon (Arriva)"]
GARAGE_WEIGHTS = [0.37] + [0.63 / 11] * 11
INJURIES = {"Injuries treated on scene": 0.75, "Taken to Hospital – Reported Serious Injury or Severity Unknown": 0.13,
            "Reported Minor Injury - Treated at Hospital": 0.118, "Fatal": 0.002}
EVENTS = {"Slip Trip Fall": 0.30, "Onboard Injuries": 0.283, "Personal Injury": 0.198, "Collision Incident": 0.18,
          "Assault": 0.025, "Activity Incident Event": 0.005, "Vandalism Hooliganism": 0.003,
          "Safety Critical Failure": 0.003, "Fire": 0.0005, "Robbery": 0.0005}
VICTIMS = {"Passenger": 0.81, "Pedestrian": 0.07, "Bus Driver": 0.064, "3rd Party driver / Occupant": 0.025,
           "Cyclist": 0.012, "Cyclist ": 0.002, "Member Of Public": 0.006, "Motorcyclist": 0.005,
           "Operational Staff": 0.003, "Conductor": 0.001, "Other": 0.002}
SEXES = {"Female": 0.51, "Male": 0.33, "Unknown": 0.16}
AGES = {"Adult": 0.46, "Unknown": 0.31, "Elderly": 0.12, "Child": 0.095, "Youth": 0.015}
# How TfL writes borough names: '&' for 'and', "Upon" capitalised, and names that are no London borough.
TFL_SPELLING = {"Hammersmith and Fulham": "Hammersmith & Fulham", "Barking and Dagenham": "Barking & Dagenham",
                "Kensington and Chelsea": "Kensington & Chelsea", "Richmond upon Thames": "Richmond Upon Thames"}
NOT_LONDON = {"None London Borough": 0.024, "Not specified": 0.024, "Out of London": 0.002}

CRIME_HEADER = ["Offence Date", "Offence Time", "Mode", "Line", "Route Or Station", "Borough Code",
                "Offence Category", "Recorded By"]
MODES = {"Bus": 0.45, "Underground": 0.30, "Elizabeth line": 0.09, "Overground": 0.08, "DLR": 0.05, "Tram": 0.03}
STATIONS = {  # mode -> (station, line, borough code); a busy few first (they draw more offences)
    "Underground": [
        ("Oxford Circus", "Central", "E09000033"), ("King’s Cross St. Pancras", "Victoria", "E09000007"),
        ("Stratford", "Central", "E09000025"), ("Brixton", "Victoria", "E09000022"),
        ("Victoria", "Victoria", "E09000033"), ("Waterloo", "Northern", "E09000022"),
        ("London Bridge", "Jubilee", "E09000028"), ("Liverpool Street", "Central", "E09000001"),
        ("Bank", "Northern", "E09000001"), ("Camden Town", "Northern", "E09000007"),
        ("Elephant & Castle", "Bakerloo", "E09000028"), ("Finsbury Park", "Piccadilly", "E09000019"),
        ("Seven Sisters", "Victoria", "E09000014"), ("Walthamstow Central", "Victoria", "E09000031"),
        ("Tottenham Court Road", "Central", "E09000033"), ("Leicester Square", "Northern", "E09000033"),
        ("Whitechapel", "District", "E09000030"), ("Canary Wharf", "Jubilee", "E09000030"),
        ("Hammersmith", "District", "E09000013"), ("Shepherd's Bush", "Central", "E09000013"),
        ("Ealing Broadway", "District", "E09000009"), ("Wembley Park", "Jubilee", "E09000005"),
        ("Harrow-on-the-Hill", "Metropolitan", "E09000015"), ("Uxbridge", "Piccadilly", "E09000017"),
        ("Hounslow Central", "Piccadilly", "E09000018"), ("Richmond", "District", "E09000027"),
        ("Wimbledon", "District", "E09000024"), ("Morden", "Northern", "E09000024"),
        ("Edgware", "Northern", "E09000003"), ("Cockfosters", "Piccadilly", "E09000010"),
        ("Barking", "District", "E09000002"), ("Upminster", "District", "E09000016"),
        ("Earl's Court", "District", "E09000020"), ("Archway", "Northern", "E09000019"),
        ("Epping", "Central", "E07000072"), ("Chesham", "Metropolitan", "E06000060"),
    ],
    "Elizabeth line": [
        ("Farringdon", "Elizabeth", "E09000019"), ("Paddington", "Elizabeth", "E09000033"),
        ("Whitechapel", "Elizabeth", "E09000030"), ("Ilford", "Elizabeth", "E09000026"),
        ("Romford", "Elizabeth", "E09000016"), ("Woolwich", "Elizabeth", "E09000011"),
        ("Abbey Wood", "Elizabeth", "E09000011"), ("Ealing Broadway", "Elizabeth", "E09000009"),
        ("Hayes & Harlington", "Elizabeth", "E09000017"), ("Shenfield", "Elizabeth", "E07000068"),
    ],
    "Overground": [
        ("Clapham Junction", "Windrush", "E09000032"), ("Highbury & Islington", "Mildmay", "E09000019"),
        ("Dalston Junction", "Windrush", "E09000012"), ("Peckham Rye", "Windrush", "E09000028"),
        ("West Croydon", "Windrush", "E09000008"), ("Willesden Junction", "Mildmay", "E09000005"),
        ("Barking", "Suffragette", "E09000002"), ("Walthamstow Central", "Weaver", "E09000031"),
        ("Watford Junction", "Lioness", "E07000103"),
    ],
    "DLR": [
        ("Canning Town", "DLR", "E09000025"), ("Lewisham", "DLR", "E09000023"), ("Bank", "DLR", "E09000001"),
        ("Stratford", "DLR", "E09000025"), ("Woolwich Arsenal", "DLR", "E09000011"),
        ("Poplar", "DLR", "E09000030"),
    ],
    "Tram": [
        ("East Croydon", "Tram", "E09000008"), ("Wimbledon", "Tram", "E09000024"),
        ("Beckenham Junction", "Tram", "E09000006"), ("Mitcham", "Tram", "E09000024"),
    ],
}
OFFENCES = {"Theft": 0.28, "Violence without injury": 0.20, "Public order": 0.12, "Violence with injury": 0.10,
            "Criminal damage": 0.06, "Sexual offences": 0.05, "Other crime": 0.05, "Robbery": 0.04, "Drugs": 0.04,
            "Possession of weapons": 0.02, "Knife or sharp instrument": 0.01, "Bicycle theft": 0.01,
            "Theft from the person": 0.02}
# Offences by hour: the morning and evening peaks, and the night-time economy.
CRIME_HOURS = [2.2, 1.6, 1.2, 0.7, 0.4, 0.5, 1.2, 3.2, 5.4, 4.2, 3.4, 3.6, 4.0, 4.2, 4.5, 5.2, 6.0, 6.8, 6.6,
               5.4, 4.6, 4.2, 3.8, 3.0]
BUS_HOURS = CRIME_HOURS
MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days


def _bus_rows(month: str, seed: int, scale: float) -> list[list]:
    """Rows with Date Of Incident as a datetime (the workbook) — the CSV form turns it into a serial."""
    rng = london.rng_for(seed, BUS_DATASET, month, scale)
    n = int(rng.poisson(BUS_ROWS_PER_MONTH * london.seasonal(month) * scale))
    first = datetime(int(month[:4]), int(month[5:]), 1)
    boroughs = london.pick(rng, london.CODES, london.population_weights(), n)
    not_london = rng.random(n) < sum(NOT_LONDON.values())
    elsewhere = london.pick(rng, list(NOT_LONDON), list(NOT_LONDON.values()), n)
    operators = rng.choice(len(OPERATORS), size=n, p=np.array([o[2] for o in OPERATORS]) / sum(o[2] for o in OPERATORS))
    routes = rng.integers(1, 500, n)
    columns = {name: london.pick(rng, list(d), list(d.values()), n)
               for name, d in (("injury", INJURIES), ("event", EVENTS), ("victim", VICTIMS), ("sex", SEXES),
                               ("age", AGES))}
    garages = london.pick(rng, GARAGES, GARAGE_WEIGHTS, n)
    rows = []
    for i in range(n):
        name = london.NAMES[boroughs[i]]
        borough = elsewhere[i] if not_london[i] else TFL_SPELLING.get(name, name)
        operator, group, _ = OPERATORS[operators[i]]
        route = "OOS" if routes[i] > 495 else (f"N{routes[i] % 100}" if routes[i] > 470 else str(routes[i]))
        rows.append([first.year, first, route, operator, group, garages[i], borough, columns["injury"][i],
                     columns["event"][i], columns["victim"][i], columns["sex"][i], columns["age"][i]])
    return rows


def _bus_planted(month: str, template: list) -> list[list]:
    year, mon = int(month[:4]), int(month[5:])
    other = datetime(year - 1, mon, 1)
    return [template[:1] + [None] + template[2:], template[:1] + [other] + template[2:]]


def _write_bus_workbook(path: Path, rows: list[list], month: str) -> None:
    """TfL's workbook: pivot-table sheets first, then the data sheet (found by its header). Byte for byte
    the same for the same seed: the save time openpyxl stamps is replaced by the month's first day."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Sheet2")
    summary.append([None, None])
    summary.append(["Count of Incident Event Type", "Route"])
    data = wb.create_sheet("Sheet1")
    data.append(BUS_HEADER + [None])
    for row in rows:
        data.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    stamp = f"{month}-01T00:00:00Z"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buffer) as saved, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in saved.infolist():
            content = saved.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content)
            out.writestr(zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0)), content,
                         compress_type=zipfile.ZIP_DEFLATED)


def _write_bus_csv(path: Path, rows: list[list]) -> None:
    """TfL's CSV form: Excel serial dates, a trailing empty header cell, a stray 13th cell on some rows."""
    out = []
    for i, row in enumerate(rows):
        cells = ["" if v is None else (str(_serial(v.date())) if isinstance(v, datetime) else str(v)) for v in row]
        out.append(cells + (["0"] if i % 17 == 0 else [""]))
    london.write_text(path, london.csv_text(BUS_HEADER + [""], out))


def _station_weights(stations: list) -> np.ndarray:
    w = 1.0 / (np.arange(len(stations)) + 3.0)   # a few hubs carry much of the offending
    return w / w.sum()


def _crime_rows(month: str, seed: int, scale: float) -> list[list[str]]:
    rng = london.rng_for(seed, CRIME_DATASET, month, scale)
    n = int(rng.poisson(CRIME_ROWS_PER_MONTH * london.seasonal(month) * scale))
    year, mon = int(month[:4]), int(month[5:])
    kind = london.month_index(month) % 3           # the date format varies by month: ISO, DD/MM/YYYY, serial
    modes = london.pick(rng, list(MODES), list(MODES.values()), n)
    offences = london.pick(rng, list(OFFENCES), list(OFFENCES.values()), n)
    boroughs = london.pick(rng, london.CODES, london.population_weights(), n)
    days = rng.integers(1, london.days_in(month) + 1, n)
    hour = london.hours(rng, CRIME_HOURS, n)
    minute = rng.integers(0, 60, n)
    u = rng.random((n, 3))
    rows = []
    for i in range(n):
        d = date(year, mon, int(days[i]))
        when = (d.isoformat(), f"{d.day:02d}/{d.month:02d}/{d.year}", str(_serial(d)))[kind]
        mode = modes[i]
        if mode == "Bus":
            borough = boroughs[i]
            route = 1 + (int(borough[-2:]) * 37 + int(u[i, 0] * 6) * 53) % 480
            line, place = str(route), f"Route {route}"
            recorded = "City of London Police" if borough == "E09000001" else "Metropolitan Police Service"
        else:
            stations = STATIONS[mode]
            place, line, borough = stations[rng.choice(len(stations), p=_station_weights(stations))]
            recorded = "British Transport Police"
        if u[i, 1] < 0.003:
            borough = ""                               # the extract could not place it
        time_text = "" if u[i, 2] < 0.05 else f"{hour[i]:02d}:{minute[i]:02d}"
        if u[i, 2] > 0.97:
            place = place + "  "                       # trailing spaces, as typed
        rows.append([when, time_text, mode, line, place, borough, offences[i], recorded])
    return rows


def _crime_planted(month: str, template: list[str]) -> list[list[str]]:
    year = int(month[:4])
    blank_mode = list(template)
    blank_mode[2] = ""
    bad_date = list(template)
    bad_date[0] = f"{year}-13-01"
    return [blank_mode, bad_date]


def _insert_planted(rows: list, planted: list) -> list:
    step = max(1, len(rows) // (len(planted) + 1))
    for k, bad in enumerate(planted):
        rows.insert((k + 1) * step, bad)
    return rows


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """Per month: YYYY-MM-tfl-bus-safety.xlsx (odd months) or .csv (even months), and
    YYYY-MM-tfl-network-crimes.csv, into out_dir/<YYYY-MM>/."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    written = []
    for month in london.months(first_month, last_month):
        folder = Path(out_dir) / month
        bus = _bus_rows(month, seed, scale)
        if bus:
            bus = _insert_planted(bus, _bus_planted(month, bus[0]))
        if int(month[5:]) % 2:
            path = folder / f"{month}-tfl-bus-safety.xlsx"
            _write_bus_workbook(path, bus, month)
        else:
            path = folder / f"{month}-tfl-bus-safety.csv"
            _write_bus_csv(path, bus)
        written.append(path)
        if progress:
            progress(path, len(bus))
        crimes = _crime_rows(month, seed, scale)
        if crimes:
            crimes = _insert_planted(crimes, _crime_planted(month, crimes[0]))
        kind = london.month_index(month) % 2
        path = folder / f"{month}-tfl-network-crimes.csv"
        london.write_text(path, london.csv_text(CRIME_HEADER, crimes, "\r\n" if kind else "\n"),
                          encoding="cp1252" if kind else "utf-8", bom=not kind)
        written.append(path)
        if progress:
            progress(path, len(crimes))
    return written
