"""Synthesise London Fire Brigade monthly incident files (London Datastore format, YYYY-MM-lfb-incidents.csv)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable

import numpy as np

from safestats.synth import london

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
    "Outdoor": (0.13, ["Loose refuse ", "Grassland, pasture, grazing etc", "Tree scrub", "Small refuse/rubbish container",
                       "Park"]),
    "Road Vehicle": (0.09, ["Car", "Van", "Motorcycle", "Bus/coach", "Lorry/HGV"]),
    "Other Residential": (0.07, ["Student Hall of Residence", "Hotel/motel", "Nurses'/Doctors' accommodation",
                                 "Residential Home"]),
    "Outdoor Structure": (0.055, ["Wheelie bin (domestic size)", "Large refuse/rubbish container (eg skip/ paladin)",
                                  "Common external bin storage area", "Fence"]),
    "Boat": (0.0025, ["Boats - Private/Leisure"]),
    "Rail Vehicle": (0.0025, ["Train on tracks"]),
}
QUALIFIERS = ["Correct incident location", "Within same building", "In street outside gazetteer location",
              "On land associated with building", "Nearby address - no building in street", "Open land/water - nearest gazetteer location"]
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
    "E09000001": ["Dowgate", "Shoreditch"], "E09000002": ["Barking", "Dagenham"], "E09000003": ["Finchley", "Mill Hill"],
    "E09000004": ["Bexley", "Erith"], "E09000005": ["Wembley", "Willesden"], "E09000006": ["Bromley", "Orpington"],
    "E09000007": ["Kentish Town", "Euston"], "E09000008": ["Croydon", "Norbury"], "E09000009": ["Ealing", "Southall"],
    "E09000010": ["Enfield", "Edmonton"], "E09000011": ["Greenwich", "Plumstead"], "E09000012": ["Homerton", "Stoke Newington"],
    "E09000013": ["Hammersmith", "Fulham"], "E09000014": ["Tottenham", "Hornsey"], "E09000015": ["Harrow", "Stanmore"],
    "E09000016": ["Romford", "Hornchurch"], "E09000017": ["Hillingdon", "Heathrow"], "E09000018": ["Hounslow", "Feltham"],
    "E09000019": ["Islington", "Holloway"], "E09000020": ["Kensington", "Chelsea"], "E09000021": ["Kingston", "Surbiton"],
    "E09000022": ["Brixton", "Lambeth"], "E09000023": ["Lewisham", "Forest Hill"], "E09000024": ["Wimbledon", "Mitcham"],
    "E09000025": ["Stratford", "East Ham"], "E09000026": ["Ilford", "Woodford"], "E09000027": ["Richmond", "Twickenham"],
    "E09000028": ["Old Kent Road", "Peckham"], "E09000029": ["Sutton", "Wallington"], "E09000030": ["Whitechapel", "Poplar"],
    "E09000031": ["Walthamstow", "Chingford"], "E09000032": ["Wandsworth", "Tooting"], "E09000033": ["Soho", "Paddington"],
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


def _rows(month: str, seed: int, scale: float) -> list[dict]:
    rng = london.rng_for(seed, DATASET, month, scale)
    n = int(rng.poisson(expected_rows(month, scale)))
    groups = london.pick(rng, list(GROUPS), list(GROUPS.values()), n)
    boroughs = london.pick(rng, london.CODES, london.population_weights(), n)
    outside = rng.random(n) < OUT_OF_LONDON_SHARE
    days = rng.integers(1, london.days_in(month) + 1, n)
    hour = london.hours(rng, HOUR_PROFILE, n)
    minute, second = rng.integers(0, 60, n), rng.integers(0, 60, n)
    u = rng.random((n, 8))
    attendance = np.clip(rng.lognormal(np.log(320), 0.35, n), 60, 2400).astype(int)
    second_attendance = attendance + np.clip(rng.lognormal(np.log(90), 0.6, n), 10, 1800).astype(int)
    year, mon = int(month[:4]), int(month[5:])
    rows = []
    for i in range(n):
        group = groups[i]
        codes = STOP_CODES[group]
        stop = _choose(codes, u[i, 0])
        motive = ""
        if group == "Fire":
            d, a, _ = MOTIVES[stop]
            motive = "Deliberate" if u[i, 1] < d else ("Accidental" if u[i, 1] < d + a else "Not known")
        special = _choose(SPECIAL_SERVICES, u[i, 2]) if stop == "Special Service" else ""
        category = _choose({k: v[0] for k, v in PROPERTIES.items()}, u[i, 3])
        types = PROPERTIES[category][1]
        code = boroughs[i]
        lat0, lon0, sd_lat, sd_lon = london.centroid(code)
        lat, lon = lat0 + sd_lat * (u[i, 4] - 0.5) * 2, lon0 + sd_lon * (u[i, 5] - 0.5) * 2
        if outside[i]:
            code_out, name_out, frs = OUTSIDE[i % len(OUTSIDE)]
            borough_code, borough_name, proper, frs_name, ward = code_out, name_out, name_out.title(), frs, ""
        else:
            borough_code, borough_name, proper, frs_name = code, london.NAMES[code].upper(), london.NAMES[code], "London"
            ward_list = london.wards()[code]
            ward = ward_list[int(u[i, 6] * len(ward_list))]
        district = DISTRICTS[code][int(u[i, 7] * 3)]
        pumps = 1 + int(u[i, 6] * 10 > 6) + int(u[i, 6] * 100 > 95) * 2
        attended = not (group == "False Alarm" and u[i, 2] < 0.04)
        rows.append({
            "day": int(days[i]), "hour": int(hour[i]), "minute": int(minute[i]), "second": int(second[i]),
            "serial": i + 1, "group": group, "stop": stop, "special": special, "category": category,
            "type": types[int(u[i, 4] * len(types))], "qualifier": QUALIFIERS[int(u[i, 5] * len(QUALIFIERS))],
            "district": district, "postcode": f"{district} {int(u[i, 7] * 9) + 1}{'ABDEFGHJLNPQRSTUWXYZ'[i % 20]}"
                                              f"{'ABDEFGHJLNPQRSTUWXYZ'[(i * 7) % 20]}",
            "uprn": f"{1.0 + u[i, 1] * 2:.5f}E+11" if u[i, 3] > 0.3 else "", "usrn": str(21500000 + i % 99991),
            "borough_code": borough_code, "borough_name": borough_name, "proper": proper, "ward": ward,
            "lat": lat, "lon": lon, "frs": frs_name, "ground": STATIONS[code][int(u[i, 0] * 2)],
            "first_att": int(attendance[i]) if attended else None,
            "second_att": int(second_attendance[i]) if attended and pumps > 1 else None,
            "first_station": STATIONS[code][int(u[i, 1] * 2)] if attended else "",
            "pumps": pumps if attended else None, "pump_hours": 1 + int(u[i, 2] * 10 > 8) if attended else None,
            "calls": 1 + int(u[i, 7] * 10 > 8) + int(u[i, 7] * 100 > 97) * 3, "motive": motive,
            "year": year, "mon": mon,
        })
    return rows


def _choose(weights: dict, u: float):
    total = sum(weights.values())
    acc = 0.0
    for key, w in weights.items():
        acc += w / total
        if u < acc:
            return key
    return key


def _fields(r: dict, dirt: dict) -> list[str]:
    day, year, mon = r["day"], r["year"], r["mon"]
    date_text = (date(year, mon, day).isoformat() if dirt["iso_dates"]
                 else f"{day:02d} {MONTH_ABBR[mon - 1]} {year}")
    incident_number = f"{r['serial']:06d}-{day:02d}{mon:02d}{year}"
    easting = int(530000 + (r["lon"] + 0.1) * 69500)
    northing = int(180000 + (r["lat"] - 51.5) * 111200)
    blank = "" if r["pumps"] is None else None
    pump_hours = "" if r["pump_hours"] is None else (
        str(r["pump_hours"] * 60 - 13) if dirt["old_vintage"] else str(r["pump_hours"]))
    cost = "" if r["pump_hours"] is None else str(364 * r["pump_hours"] * (r["pumps"] or 1))
    values = {
        "IncidentNumber": incident_number, "DateOfCall": date_text, "CalYear": str(year),
        "TimeOfCall": f"{r['hour']:02d}:{r['minute']:02d}:{r['second']:02d}", "HourOfCall": str(r["hour"]),
        "IncidentGroup": r["group"], "StopCodeDescription": r["stop"], "SpecialServiceType": r["special"],
        "PropertyCategory": r["category"], "PropertyType": r["type"], "AddressQualifier": r["qualifier"],
        "Postcode_full": r["postcode"], "Postcode_district": r["district"], "UPRN": r["uprn"], "USRN": r["usrn"],
        "IncGeo_BoroughCode": r["borough_code"], "IncGeo_BoroughName": r["borough_name"], "ProperCase": r["proper"],
        "IncGeo_WardCode": r["ward"], "IncGeo_WardName": "", "IncGeo_WardNameNew": "",
        "Easting_m": str(easting), "Northing_m": str(northing), "Easting_rounded": str(easting // 50 * 50),
        "Northing_rounded": str(northing // 50 * 50), "Latitude": f"{r['lat']:.8f}", "Longitude": f"{r['lon']:.8f}",
        "FRS": r["frs"], "IncidentStationGround": r["ground"],
        "FirstPumpArriving_AttendanceTime": "" if r["first_att"] is None else str(r["first_att"]),
        "FirstPumpArriving_DeployedFromStation": r["first_station"],
        "SecondPumpArriving_AttendanceTime": "" if r["second_att"] is None else str(r["second_att"]),
        "SecondPumpArriving_DeployedFromStation": r["first_station"] if r["second_att"] is not None else "",
        "NumStationsWithPumpsAttending": blank if blank is not None else str(min(r["pumps"], 3)),
        "NumPumpsAttending": blank if blank is not None else str(r["pumps"]),
        "PumpCount": blank if blank is not None else str(r["pumps"]),
        "PumpHoursRoundUp": pump_hours, "PumpMinutesRounded": pump_hours,
        "Notional Cost (£)": cost, "NumCalls": str(r["calls"]), "Motive": r["motive"],
    }
    return [values[h] for h in (OLD_HEADER if dirt["old_vintage"] else HEADER)]


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
               progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write YYYY-MM-lfb-incidents.csv for every month in the range into out_dir/<YYYY-MM>/."""
    written = []
    for month in london.months(first_month, last_month):
        dirt = _dirt(month)
        header = OLD_HEADER if dirt["old_vintage"] else HEADER
        rows = [_fields(r, dirt) for r in _rows(month, seed, scale)]
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
            progress(f"{path} ({len(rows):,} rows)")
    return written
