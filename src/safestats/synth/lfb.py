"""Synthesise London Fire Brigade monthly incident files (London Datastore format, YYYY-MM-lfb-incidents.csv)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from safestats.synth import Progress, london

DATASET = "lfb_incidents"
ROWS_PER_MONTH = 10_000
# Three rows per file are planted invalid and must be rejected with their reason: an impossible date,
# a date of another month, an impossible time of call.
PLANTED_REJECTS = 3
OUT_OF_LONDON_SHARE = 0.004   # incidents attended over the border
HEADER = ["IncidentNumber", "DateOfCall", "CalYear", "TimeOfCall", "HourOfCall", "IncidentGroup",
          "StopCodeDescription", "SpecialServiceType", "PropertyCategory", "PropertyType", "AddressQualifier",
          "Postcode_full", "Postcode_district", "UPRN", "USRN", "IncGeo_BoroughCode", "IncGeo_BoroughName",
          "ProperCase", "IncGeo_WardCode", "IncGeo_WardName", "IncGeo_WardNameNew", "Easting_m", "Northing_m",
          "Easting_rounded", "Northing_rounded", "Latitude", "Longitude", "FRS", "IncidentStationGround",
          "FirstPumpArriving_AttendanceTime", "FirstPumpArriving_DeployedFromStation",
          "SecondPumpArriving_AttendanceTime", "SecondPumpArriving_DeployedFromStation",
          "NumStationsWithPumpsAttending", "NumPumpsAttending", "PumpCount", "PumpHoursRoundUp",
          "Notional Cost (£)", "NumCalls", "Motive"]
# An older vintage's header: pump minutes instead of hours, no IncGeo_WardNameNew.
OLD_HEADER = [h for h in HEADER if h != "IncGeo_WardNameNew"]
OLD_HEADER[OLD_HEADER.index("PumpHoursRoundUp")] = "PumpMinutesRounded"

GROUPS = {"False Alarm": 0.47, "Special Service": 0.30, "Fire": 0.23}
STOP_CODES = {
    "Fire": ({"Primary Fire": 0.46, "Secondary Fire": 0.53, "Chimney Fire": 0.005, "Late Call": 0.005}),
    "False Alarm": {"AFA": 0.73, "False alarm - Good intent": 0.255, "False alarm - Malicious": 0.015},
    "Special Service": {"Special Service": 0.99, "Flood call attended - Batch mobilised": 0.01},
}
MOTIVES = {  # deliberate, accidental, not known
    "Primary Fire": (0.12, 0.83, 0.05), "Secondary Fire": (0.70, 0.25, 0.05),
    "Chimney Fire": (0.0, 1.0, 0.0), "Late Call": (0.05, 0.9, 0.05),
}
SPECIAL_SERVICES = {"Effecting entry/exit": 0.21, "Flooding": 0.16, "RTC": 0.15, "Lift Release": 0.11,
                    "No action (not false alarm)": 0.08, "Assist other agencies": 0.05,
                    "Making Safe (not RTC)": 0.04, "Medical Incident": 0.04, "Animal assistance incidents": 0.04,
                    "Removal of objects from people": 0.03, "Other rescue/release of persons": 0.03,
                    "Spills and Leaks (not RTC)": 0.03, "Suicide/attempts": 0.02, "Hazardous Materials": 0.01}
PROPERTIES = {  # category -> (weight, property types; some with the published trailing space)
    "Dwelling": (0.45, ["Purpose Built Flats/Maisonettes - 4 to 9 storeys ", "House - single occupancy ",
                        "Purpose Built Flats/Maisonettes - Up to 3 storeys ", "Converted Flat/Maisonettes - 3 or more",
                        "Self contained Sheltered Housing"]),
    "Non Residential": (0.20, ["Single shop", "Offices and call centres", "Hospitals and medical care",
                               "Restaurant/cafe", "Pub/wine bar/bar", "Warehouses and bulk storage"]),
    "Outdoor": (0.13, ["Loose refuse ", "Grassland, pasture, grazing etc", "Tree scrub",
                       "Small refuse/rubbish container", "Park"]),
    "Road Vehicle": (0.09, ["Car", "Van", "Motorcycle", "Bus/coach", "Lorry/HGV"]),
    "Other Residential": (0.07, ["Student Hall of Residence", "Hotel/motel", "Nurses'/Doctors' accommodation",
                                 "Residential Home"]),
    "Outdoor Structure": (0.055, ["Wheelie bin (domestic size)", "Large refuse/rubbish container (eg skip/ paladin)",
                                  "Common external bin storage area", "Fence"]),
    "Boat": (0.0025, ["Boats - Private/Leisure"]),
    "Rail Vehicle": (0.0025, ["Train on tracks"]),
}
QUALIFIERS = ["Correct incident location", "Within same building", "In street outside gazetteer location",
              "On land associated with building", "Nearby address - no building in street",
              "Open land/water - nearest gazetteer location"]
DISTRICTS = {  # a few postcode districts per borough (synthetic postcodes are made from them)
    "E09000001": ["EC2", "EC4", "EC3"], "E09000002": ["IG11", "RM9", "RM10"], "E09000003": ["N12", "EN5", "NW4"],
    "E09000004": ["DA6", "DA15", "DA7"], "E09000005": ["NW10", "HA9", "NW2"], "E09000006": ["BR1", "BR2", "BR6"],
    "E09000007": ["NW1", "NW5", "WC1"], "E09000008": ["CR0", "CR2", "SE25"], "E09000009": ["W5", "W13", "UB6"],
    "E09000010": ["EN1", "EN3", "N9"], "E09000011": ["SE10", "SE18", "SE9"], "E09000012": ["E8", "E5", "N16"],
    "E09000013": ["W6", "W12", "SW6"], "E09000014": ["N17", "N15", "N8"], "E09000015": ["HA1", "HA2", "HA3"],
    "E09000016": ["RM1", "RM3", "RM12"], "E09000017": ["UB8", "UB3", "HA4"], "E09000018": ["TW3", "TW4", "W4"],
    "E09000019": ["N1", "N7", "N19"], "E09000020": ["W8", "SW3", "W11"], "E09000021": ["KT1", "KT2", "KT6"],
    "E09000022": ["SW9", "SE11", "SW2"], "E09000023": ["SE13", "SE6", "SE4"], "E09000024": ["SW19", "CR4", "SM4"],
    "E09000025": ["E15", "E13", "E6"], "E09000026": ["IG1", "IG2", "IG8"], "E09000027": ["TW9", "TW10", "TW1"],
    "E09000028": ["SE1", "SE15", "SE5"], "E09000029": ["SM1", "SM2", "SM6"], "E09000030": ["E1", "E14", "E3"],
    "E09000031": ["E17", "E4", "E10"], "E09000032": ["SW18", "SW11", "SW17"], "E09000033": ["W1", "SW1", "W2"],
}
STATIONS = {  # borough -> station grounds
    "E09000001": ["Dowgate", "Shoreditch"],
    "E09000002": ["Barking", "Dagenham"],
    "E09000003": ["Finchley", "Mill Hill"],
    "E09000004": ["Bexley", "Erith"],
    "E09000005": ["Wembley", "Willesden"],
    "E09000006": ["Bromley", "Orpington"],
    "E09000007": ["Kentish Town", "Euston"],
    "E09000008": ["Croydon", "Norbury"],
    "E09000009": ["Ealing", "Southall"],
    "E09000010": ["Enfield", "Edmonton"],
    "E09000011": ["Greenwich", "Plumstead"],
    "E09000012": ["Homerton", "Stoke Newington"],
    "E09000013": ["Hammersmith", "Fulham"],
    "E09000014": ["Tottenham", "Hornsey"],
    "E09000015": ["Harrow", "Stanmore"],
    "E09000016": ["Romford", "Hornchurch"],
    "E09000017": ["Hillingdon", "Heathrow"],
    "E09000018": ["Hounslow", "Feltham"],
    "E09000019": ["Islington", "Holloway"],
    "E09000020": ["Kensington", "Chelsea"],
    "E09000021": ["Kingston", "Surbiton"],
    "E09000022": ["Brixton", "Lambeth"],
    "E09000023": ["Lewisham", "Forest Hill"],
    "E09000024": ["Wimbledon", "Mitcham"],
    "E09000025": ["Stratford", "East Ham"],
    "E09000026": ["Ilford", "Woodford"],
    "E09000027": ["Richmond", "Twickenham"],
    "E09000028": ["Old Kent Road", "Peckham"],
    "E09000029": ["Sutton", "Wallington"],
    "E09000030": ["Whitechapel", "Poplar"],
    "E09000031": ["Walthamstow", "Chingford"],
    "E09000032": ["Wandsworth", "Tooting"],
    "E09000033": ["Soho", "Paddington"],
}
OUTSIDE = [("E07000072", "EPPING FOREST", "Essex"), ("E07000207", "ELMBRIDGE", "Surrey"),
           ("E07000107", "DARTFORD", "Kent"), ("E07000213", "SPELTHORNE", "Surrey")]
# Incidents by hour of call: quiet before dawn, a peak in the early evening.
HOUR_PROFILE = [3.0, 2.6, 2.2, 1.8, 1.5, 1.4, 1.7, 2.6, 3.6, 4.2, 4.5, 4.7, 4.9, 5.0, 5.1, 5.3, 5.6, 5.9, 6.0,
                5.8, 5.3, 4.7, 4.0, 3.4]
# Fires rise in spring and summer (grass and refuse fires), flooding calls in winter: volume by calendar month.
SEASON = {"01": 0.93, "02": 0.88, "03": 0.97, "04": 1.04, "05": 1.06, "06": 1.08, "07": 1.14, "08": 1.08,
          "09": 0.99, "10": 0.97, "11": 0.94, "12": 0.92}
MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _dirt(month: str) -> dict:
    """The month's file quirks, cycling: Excel-saved (BOM, CRLF), Windows-1252, ISO dates, an older vintage."""
    kind = london.month_index(month) % 4
    return {
        "encoding": "cp1252" if kind == 1 else "utf-8",
        "bom": kind in (0, 3),
        "newline": "\r\n" if kind in (0, 1) else "\n",
        "iso_dates": kind == 2,
        "old_vintage": kind == 3,
    }


def expected_rows(month: str, scale: float = 1.0) -> float:
    return ROWS_PER_MONTH * SEASON[month[5:]] * scale


def _draw(uniform: np.ndarray, weights: dict) -> np.ndarray:
    """Index into `weights` for each uniform draw (inverse CDF)."""
    p = np.array(list(weights.values()), dtype=float)
    return np.minimum(np.searchsorted(np.cumsum(p / p.sum()), uniform, side="right"), len(p) - 1)


def _text(values: np.ndarray, keep: np.ndarray) -> list[str]:
    return np.where(keep, values.astype(str), "").tolist()


def _columns(month: str, seed: int, scale: float, dirt: dict) -> list[list[str]]:
    """Every column of the month's file as a list of strings, in its header's order, rows in call order."""
    rng = london.rng_for(seed, DATASET, month, scale)
    n = int(rng.poisson(expected_rows(month, scale)))
    year, mon = int(month[:4]), int(month[5:])
    u = rng.random((n, 9))
    days = rng.integers(1, london.days_in(month) + 1, n)
    hour = london.hours(rng, HOUR_PROFILE, n)
    minute, second = rng.integers(0, 60, n), rng.integers(0, 60, n)
    order = np.lexsort((second, minute, hour, days))        # the Datastore lists incidents in call order
    u, days, hour, minute, second = u[order], days[order], hour[order], minute[order], second[order]
    borough_index = rng.choice(len(london.CODES), size=n, p=london.population_weights())[order]
    outside = (rng.random(n) < OUT_OF_LONDON_SHARE)[order].tolist()
    attendance = np.clip(rng.lognormal(np.log(320), 0.35, n), 60, 2400).astype(int)
    second_attendance = attendance + np.clip(rng.lognormal(np.log(90), 0.6, n), 10, 1800).astype(int)

    group_names = list(GROUPS)
    groups = [group_names[i] for i in _draw(u[:, 0], GROUPS)]
    stop_names = {g: list(codes) for g, codes in STOP_CODES.items()}
    stop_index = {g: _draw(u[:, 1], codes) for g, codes in STOP_CODES.items()}
    stops = [stop_names[g][stop_index[g][i]] for i, g in enumerate(groups)]
    motives = []
    for g, stop, x in zip(groups, stops, u[:, 2].tolist()):
        if g != "Fire":
            motives.append("")
            continue
        d, a, _ = MOTIVES[stop]
        motives.append("Deliberate" if x < d else ("Accidental" if x < d + a else "Not known"))
    services = list(SPECIAL_SERVICES)
    service_index = _draw(u[:, 3], SPECIAL_SERVICES)
    categories = list(PROPERTIES)
    category_index = _draw(u[:, 4], {k: v[0] for k, v in PROPERTIES.items()})
    codes = [london.CODES[b] for b in borough_index]
    centroids = np.array([london.centroid(code) for code in london.CODES])[borough_index]
    lat = centroids[:, 0] + centroids[:, 2] * (u[:, 6] - 0.5) * 2
    lon = centroids[:, 1] + centroids[:, 3] * (u[:, 7] - 0.5) * 2
    easting = (530000 + (lon + 0.1) * 69500).astype(int)
    northing = (180000 + (lat - 51.5) * 111200).astype(int)
    wards = london.wards()
    attended = ~((np.array(groups) == "False Alarm") & (u[:, 3] < 0.04))
    two = attended & (u[:, 8] > 0.6)
    pumps = 1 + (u[:, 8] > 0.6) + (u[:, 8] > 0.95) * 2
    pump_hours = 1 + (u[:, 3] > 0.8)
    calls = 1 + (u[:, 5] > 0.8) + (u[:, 5] > 0.97) * 3
    dates = [date(year, mon, d) for d in days.tolist()]
    beyond = [OUTSIDE[i % len(OUTSIDE)] for i in range(n)]
    districts = [DISTRICTS[code][int(x * 3)] for code, x in zip(codes, u[:, 8].tolist())]
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    first_station = [STATIONS[code][int(x * 2)] for code, x in zip(codes, u[:, 1].tolist())]
    columns = {
        "IncidentNumber": [f"{i + 1:06d}-{d.day:02d}{mon:02d}{year}" for i, d in enumerate(dates)],
        "DateOfCall": ([d.isoformat() for d in dates] if dirt["iso_dates"]
                       else [f"{d.day:02d} {MONTH_ABBR[mon - 1]} {year}" for d in dates]),
        "CalYear": [str(year)] * n,
        "TimeOfCall": [f"{h:02d}:{m:02d}:{s:02d}" for h, m, s in zip(hour.tolist(), minute.tolist(), second.tolist())],
        "HourOfCall": [str(h) for h in hour.tolist()],
        "IncidentGroup": groups,
        "StopCodeDescription": stops,
        "SpecialServiceType": [services[k] if s == "Special Service" else "" for s, k in zip(stops, service_index)],
        "PropertyCategory": [categories[c] for c in category_index],
        "PropertyType": [PROPERTIES[categories[c]][1][int(x * len(PROPERTIES[categories[c]][1]))]
                         for c, x in zip(category_index, u[:, 5].tolist())],
        "AddressQualifier": [QUALIFIERS[int(x * len(QUALIFIERS))] for x in u[:, 6].tolist()],
        "Postcode_full": [f"{d} {1 + i % 9}{letters[i % 20]}{letters[(i * 7) % 20]}" for i, d in enumerate(districts)],
        "Postcode_district": districts,
        "UPRN": [f"{1.0 + x * 2:.5f}E+11" if x > 0.3 else "" for x in u[:, 4].tolist()],  # as Excel mangles it
        "USRN": [str(21500000 + i % 99991) for i in range(n)],
        "IncGeo_BoroughCode": [b[0] if o else code for o, b, code in zip(outside, beyond, codes)],
        "IncGeo_BoroughName": [b[1] if o else london.NAMES[code].upper() for o, b, code in zip(outside, beyond, codes)],
        "ProperCase": [b[1].title() if o else london.NAMES[code] for o, b, code in zip(outside, beyond, codes)],
        "IncGeo_WardCode": ["" if o else wards[code][int(x * len(wards[code]))]
                            for o, code, x in zip(outside, codes, u[:, 2].tolist())],
        "IncGeo_WardName": [""] * n,
        "IncGeo_WardNameNew": [""] * n,
        "Easting_m": [str(e) for e in easting.tolist()],
        "Northing_m": [str(v) for v in northing.tolist()],
        "Easting_rounded": [str(e // 50 * 50) for e in easting.tolist()],
        "Northing_rounded": [str(v // 50 * 50) for v in northing.tolist()],
        "Latitude": [f"{v:.8f}" for v in lat.tolist()],
        "Longitude": [f"{v:.8f}" for v in lon.tolist()],
        "FRS": [b[2] if o else "London" for o, b in zip(outside, beyond)],
        "IncidentStationGround": [STATIONS[code][int(x * 2)] for code, x in zip(codes, u[:, 0].tolist())],
        "FirstPumpArriving_AttendanceTime": _text(attendance, attended),
        "FirstPumpArriving_DeployedFromStation": [s if a else "" for s, a in zip(first_station, attended.tolist())],
        "SecondPumpArriving_AttendanceTime": _text(second_attendance, two),
        "SecondPumpArriving_DeployedFromStation": [s if t else "" for s, t in zip(first_station, two.tolist())],
        "NumStationsWithPumpsAttending": _text(np.minimum(pumps, 3), attended),
        "NumPumpsAttending": _text(pumps, attended),
        "PumpCount": _text(pumps, attended),
        # the older vintage publishes pump minutes, the newer pump hours rounded up
        "PumpHoursRoundUp": _text(pump_hours, attended),
        "PumpMinutesRounded": _text(pump_hours * 60 - 13, attended),
        "Notional Cost (£)": _text(364 * pump_hours * pumps, attended),
        "NumCalls": [str(c) for c in calls.tolist()],
        "Motive": motives,
    }
    return [columns[h] for h in (OLD_HEADER if dirt["old_vintage"] else HEADER)]


def _planted(month: str, header: list[str], template: list[str]) -> list[list[str]]:
    """Rows that must be rejected: 31 Feb, a date of the month before, a time of call of 25:61."""
    year, mon = int(month[:4]), int(month[5:])
    prev_year, prev_mon = (year, mon - 1) if mon > 1 else (year - 1, 12)
    at = {h: i for i, h in enumerate(header)}
    bad = []
    for k, (field, value) in enumerate([("DateOfCall", f"31 Feb {year}"),
                                        ("DateOfCall", f"15 {MONTH_ABBR[prev_mon - 1]} {prev_year}"),
                                        ("TimeOfCall", "25:61:00")]):
        row = list(template)
        row[at["IncidentNumber"]] = f"9{k:05d}-BAD{year}"
        row[at[field]] = value
        bad.append(row)
    return bad


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """Write YYYY-MM-lfb-incidents.csv for every month in the range into out_dir/<YYYY-MM>/."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    written = []
    for month in london.months(first_month, last_month):
        dirt = _dirt(month)
        header = OLD_HEADER if dirt["old_vintage"] else HEADER
        rows = list(zip(*_columns(month, seed, scale, dirt)))
        if rows:
            planted = _planted(month, header, rows[0])
            step = max(1, len(rows) // (len(planted) + 1))
            for k, bad in enumerate(planted):
                rows.insert((k + 1) * step, bad)
        path = Path(out_dir) / month / f"{month}-lfb-incidents.csv"
        london.write_text(path, london.csv_text(header, rows, dirt["newline"]), encoding=dirt["encoding"],
                          bom=dirt["bom"])
        written.append(path)
        if progress:
            progress(path, len(rows))
    return written
