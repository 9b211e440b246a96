"""Synthesise the Metropolitan Police Service's own monthly extracts: victims, perpetrators, recorded crime
outcomes and anti-social behaviour incidents, for the same crimes and incidents as the Met's police.uk street file.

The crimes of a month come from safestats.synth.police_uk.Synthesiser (same seed and scale), so a victim's crime
id is a crime id of that month's Met street file, and the ASB incidents are that file's anti-social behaviour rows.
Every attribute added here is drawn from its own numpy stream seeded from (seed, dataset, month, scale)."""
from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np

from safestats.synth import Progress
from safestats.synth.police_uk import (
    ASB,
    STREET_KINDS,
    STREET_ROOTS,
    Synthesiser,
    _month_index,
    _month_str,
    _q,
)

AGENCY = "metropolitan"
UNKNOWN_BOROUGH = "Unknown"
AIRPORTS = "London Heathrow and London City Airports"   # the MPS's pseudo-borough; not a London borough

VICTIMS_HEADER = ["Crime ID", "Victim number", "Month recorded", "Borough", "Ethnicity", "Sex", "Age range"]
# The perpetrators file is another vintage of the same system: its headers differ (the contract's aliases).
PERPETRATORS_HEADER = ["Crime Reference", "Suspect Number", "Recorded Month", "Borough Name", "Ethnic Group",
                       "Gender", "Age Band"]
OUTCOMES_HEADER = ["Crime ID", "Month recorded", "Borough", "Offence group", "Offence subgroup",
                   "Knife or sharp instrument", "Outcome", "Outcome date"]
ASB_HEADER = ["Incident reference", "Call date time", "LSOA code", "Location description", "Borough",
              "Response time minutes", "Incident type", "Incident subtype"]

ETHNICITIES = ["Asian or Asian British", "Black or Black British", "Mixed", "White", "Other Ethnic Group",
               "Not Stated"]
SEXES = ["Male", "Female", "Unknown"]
AGE_RANGES = ["0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "Unknown"]
VICTIM_MIX = {
    "ethnicity": [0.19, 0.14, 0.05, 0.52, 0.05, 0.05],
    "sex": [0.49, 0.48, 0.03],
    "age": [0.09, 0.15, 0.25, 0.20, 0.13, 0.08, 0.07, 0.03],
}
PERPETRATOR_MIX = {
    "ethnicity": [0.17, 0.26, 0.06, 0.41, 0.05, 0.05],
    "sex": [0.82, 0.15, 0.03],
    "age": [0.14, 0.24, 0.27, 0.17, 0.10, 0.04, 0.02, 0.02],
}

# Mean victims per crime by police.uk crime type: drugs and weapons possession have no victim; shoplifting's
# victim is usually a business (a person only when staff were involved).
VICTIMS_PER_CRIME = {
    "Bicycle theft": 1.0, "Burglary": 1.3, "Criminal damage and arson": 1.1, "Drugs": 0.0, "Other crime": 0.6,
    "Other theft": 1.05, "Possession of weapons": 0.0, "Public order": 0.8, "Robbery": 1.2, "Shoplifting": 0.3,
    "Theft from the person": 1.0, "Vehicle crime": 1.05, "Violence and sexual offences": 1.25,
}
# Chance that a suspect is recorded, by the crime's final police.uk outcome: none when no suspect was identified,
# always when someone was charged, cautioned or otherwise dealt with.
SUSPECT_CHANCE = {
    "Investigation complete; no suspect identified": 0.0, "Status update unavailable": 0.3,
    "Under investigation": 0.3, "Unable to prosecute suspect": 0.85,
    "Further investigation is not in the public interest": 0.4, "Action to be taken by another organisation": 0.5,
}
# police.uk crime type -> [(MPS offence group, subgroup, share, knife-flag chance)]
OFFENCES = {
    "Violence and sexual offences": [
        ("Violence Against the Person", "Violence with Injury", 0.33, 0.07),
        ("Violence Against the Person", "Violence without Injury", 0.40, 0.03),
        ("Violence Against the Person", "Stalking and Harassment", 0.1665, 0.005),
        ("Violence Against the Person", "Homicide", 0.0005, 0.4),
        ("Sexual Offences", "Other Sexual Offences", 0.068, 0.005),
        ("Sexual Offences", "Rape", 0.035, 0.01),
    ],
    "Robbery": [("Robbery", "Robbery of Personal Property", 0.9, 0.2),
                ("Robbery", "Robbery of Business Property", 0.1, 0.25)],
    "Burglary": [("Burglary", "Burglary - Residential", 0.7, 0.0),
                 ("Burglary", "Burglary - Business and Community", 0.3, 0.0)],
    "Vehicle crime": [("Vehicle Offences", "Theft from a Motor Vehicle", 0.55, 0.0),
                      ("Vehicle Offences", "Theft or Taking of a Motor Vehicle", 0.35, 0.0),
                      ("Vehicle Offences", "Interfering with a Motor Vehicle", 0.10, 0.0)],
    "Bicycle theft": [("Theft", "Bicycle Theft", 1.0, 0.0)],
    "Shoplifting": [("Theft", "Shoplifting", 1.0, 0.0)],
    "Theft from the person": [("Theft", "Theft from the Person", 1.0, 0.0)],
    "Other theft": [("Theft", "Other Theft", 1.0, 0.0)],
    "Criminal damage and arson": [("Arson and Criminal Damage", "Criminal Damage", 0.95, 0.0),
                                  ("Arson and Criminal Damage", "Arson", 0.05, 0.0)],
    "Drugs": [("Drug Offences", "Possession of Drugs", 0.85, 0.0),
              ("Drug Offences", "Drug Trafficking", 0.15, 0.0)],
    # a knife flag on possession is recorded, but it is not knife crime (nothing was used or threatened)
    "Possession of weapons": [("Possession of Weapons", "Possession of Weapons", 1.0, 0.5)],
    "Public order": [("Public Order Offences", "Public Order Offences", 1.0, 0.0)],
    "Other crime": [("Miscellaneous Crimes Against Society", "Miscellaneous Crimes Against Society", 1.0, 0.0)],
}
# police.uk outcome (as in the street file) -> the MPS's own outcome category
MPS_OUTCOME = {
    "Action to be taken by another organisation": "Action undertaken by another body/agency",
    "Awaiting court outcome": "Charge/Summons",
    "Court case unable to proceed": "Charge/Summons",
    "Court result unavailable": "Charge/Summons",
    "Defendant found not guilty": "Charge/Summons",
    "Defendant sent to Crown Court": "Charge/Summons",
    "Formal action is not in the public interest": "Not in the public interest",
    "Further investigation is not in the public interest": "Further investigation not in the public interest",
    "Investigation complete; no suspect identified": "Investigation complete - no suspect identified",
    "Local resolution": "Community Resolution",
    "Offender given a caution": "Caution",
    "Offender given a drugs possession warning": "Cannabis/Khat Warning",
    "Offender given penalty notice": "Penalty Notice for Disorder",
    "Status update unavailable": "Investigation ongoing",
    "Suspect charged as part of another case": "Taken into consideration",
    "Unable to prosecute suspect": "Evidential difficulties",
    "Under investigation": "Investigation ongoing",
}
ONGOING = "Investigation ongoing"
OUTCOMES = sorted(set(MPS_OUTCOME.values()))

ASB_TYPES = {  # incident type -> [(subtype, share within the type)]; types' shares are the MPS's rough mix
    "Nuisance": [("Rowdy or Nuisance Behaviour", 0.55), ("Vehicle Nuisance or Inappropriate Use", 0.15),
                 ("Noise", 0.12), ("Begging or Vagrancy", 0.06), ("Street Drinking", 0.05),
                 ("Fireworks", 0.03), ("Trespass", 0.04)],
    "Personal": [("Neighbour Dispute", 0.45), ("Malicious or Nuisance Communications", 0.25),
                 ("Rowdy or Nuisance Behaviour", 0.30)],
    "Environmental": [("Littering or Drugs Paraphernalia", 0.35), ("Abandoned Vehicle", 0.25),
                      ("Animal Problems", 0.25), ("Noise", 0.15)],
}
ASB_TYPE_SHARE = {"Nuisance": 0.72, "Personal": 0.20, "Environmental": 0.08}
# Calls by hour of day (ASB peaks in the evening) and the share of calls the police attend.
ASB_HOURS = np.array([3.0, 2.2, 1.6, 1.1, 0.8, 0.7, 0.9, 1.4, 2.2, 2.8, 3.2, 3.6, 4.0, 4.2, 4.4, 4.8, 5.4, 6.0,
                      6.6, 7.0, 7.2, 6.8, 5.6, 4.2])
ASB_ATTENDED = 0.62
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# Deliberately invalid rows planted in each file, which the ingest must reject with a reason.
PLANTED_REJECTS = {"victims": 2, "perpetrators": 1, "recorded-outcomes": 1, "asb": 2}
DATASETS = {"victims": 1, "perpetrators": 2, "recorded-outcomes": 3, "asb": 4}   # file kind -> stream number


def _rng(seed: int, kind: str, month: str, scale: float) -> np.random.Generator:
    key = [int(seed), 7, DATASETS[kind], int(month[:4]), int(month[5:]), round(scale * 1e6)]
    return np.random.default_rng(np.random.SeedSequence(key))


def _pick(rng, choices: list[str], p, n: int) -> np.ndarray:
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=n, p=np.asarray(p) / np.sum(p))]


class MpsSynthesiser:
    """The MPS extracts of a month, built on the police.uk Met crimes of the same seed and scale."""

    def __init__(self, seed: int = 42, scale: float = 1.0, police_uk: Synthesiser | None = None):
        self.seed, self.scale = int(seed), float(scale)
        self.uk = police_uk or Synthesiser(seed, scale)
        geo = self.uk.geo
        london = set(self.uk.cal["boroughs"])
        # borough name the MPS records for each map point: the LSOA's borough, "Unknown" off the London map
        self._crimes: dict[str, dict] = {}
        self.point_borough = [pt[4][:-5] if pt[4][:-5] in london else UNKNOWN_BOROUGH for pt in geo.points]

    # --- the month's crimes ------------------------------------------------------------------------------

    def month_crimes(self, month: str) -> dict:
        """The Met's crimes of the month that have a crime id (not ASB), with id, type, outcome and borough."""
        if month not in self._crimes:
            self._crimes = {month: self._month_crimes(month)}
        return self._crimes[month]

    def _month_crimes(self, month: str) -> dict:
        c = self.uk.crimes(AGENCY, month)
        serial = np.flatnonzero(c.status >= 0)
        ids = np.asarray(self.uk.crime_ids(AGENCY, month, serial), dtype=object)
        borough = np.asarray([self.point_borough[p] for p in c.point[serial].tolist()], dtype=object)
        # a small, fixed share of Hillingdon's crimes is recorded against the airports' pseudo-borough
        borough[(borough == "Hillingdon") & (serial % 40 == 7)] = AIRPORTS
        return {"serial": serial, "id": ids, "ctype": c.ctype[serial], "status": c.status[serial],
                "lag1": c.lag1[serial], "borough": borough}

    def _people(self, month: str, kind: str, per_crime: np.ndarray, mix: dict) -> list[list[str]]:
        rng = _rng(self.seed, kind, month, self.scale)
        crimes = self.month_crimes(month)
        whole = np.floor(per_crime)
        count = (whole + (rng.random(len(per_crime)) < per_crime - whole)).astype(np.int64)
        extra = rng.random(len(count)) < 0.1           # some crimes have several people
        count[extra & (count > 0)] += rng.poisson(0.9, int((extra & (count > 0)).sum()))
        crime = np.repeat(np.arange(len(count)), count)
        number = np.arange(len(crime)) - np.repeat(np.cumsum(count) - count, count) + 1
        n = len(crime)
        eth = _pick(rng, ETHNICITIES, mix["ethnicity"], n)
        sex = _pick(rng, SEXES, mix["sex"], n)
        age = _pick(rng, AGE_RANGES, mix["age"], n)
        ids, borough = crimes["id"][crime], crimes["borough"][crime]
        order = np.lexsort((number, crime, borough))     # extracts come sorted by borough
        return [[ids[i], str(number[i]), month, borough[i], eth[i], sex[i], age[i]] for i in order.tolist()]

    def victim_rows(self, month: str) -> list[list[str]]:
        crimes = self.month_crimes(month)
        mean = np.array([VICTIMS_PER_CRIME.get(t, 0.0) for t in self.uk.types])[crimes["ctype"]]
        return self._people(month, "victims", mean, VICTIM_MIX)

    def perpetrator_rows(self, month: str) -> list[list[str]]:
        crimes = self.month_crimes(month)
        chance = np.array([SUSPECT_CHANCE.get(s, 1.0) for s in self.uk.statuses])[crimes["status"]]
        return self._people(month, "perpetrators", chance, PERPETRATOR_MIX)

    def outcome_rows(self, month: str) -> list[list[str]]:
        """One row per crime recorded in the month, with its outcome as at the end of the month."""
        rng = _rng(self.seed, "recorded-outcomes", month, self.scale)
        crimes = self.month_crimes(month)
        n = len(crimes["serial"])
        group, subgroup, knife = np.empty(n, dtype=object), np.empty(n, dtype=object), np.zeros(n, dtype=bool)
        for t, name in enumerate(self.uk.types):
            sel = np.flatnonzero(crimes["ctype"] == t)
            if name == ASB or not len(sel):
                continue
            options = OFFENCES[name]
            pick = rng.choice(len(options), size=len(sel), p=[o[2] / sum(x[2] for x in options) for o in options])
            group[sel] = np.asarray([o[0] for o in options], dtype=object)[pick]
            subgroup[sel] = np.asarray([o[1] for o in options], dtype=object)[pick]
            knife[sel] = rng.random(len(sel)) < np.asarray([o[3] for o in options])[pick]
        # every court result follows a charge: the MPS records the charge
        outcome = np.asarray([MPS_OUTCOME.get(s, "Charge/Summons") for s in self.uk.statuses],
                             dtype=object)[crimes["status"]]
        # the extract is taken at the end of the month: outcomes given later are still "ongoing"
        outcome[crimes["lag1"] > 0] = ONGOING
        days = calendar.monthrange(int(month[:4]), int(month[5:]))[1]
        day = rng.integers(1, days + 1, n)
        dated = outcome != ONGOING
        dates = [f"{month}-{d:02d}" if k else "" for d, k in zip(day.tolist(), dated.tolist())]
        flag = np.where(knife, "Y", "N")
        order = np.lexsort((crimes["serial"], crimes["borough"]))
        b = crimes["borough"]
        return [[crimes["id"][i], month, b[i], group[i], subgroup[i], flag[i], outcome[i], dates[i]]
                for i in order.tolist()]

    def asb_rows(self, month: str) -> list[list[str]]:
        """The month's ASB calls: the Met street file's anti-social behaviour rows, with what the call log adds."""
        rng = _rng(self.seed, "asb", month, self.scale)
        c, geo = self.uk.crimes(AGENCY, month), self.uk.geo
        point = c.point[c.ctype == self.uk.types.index(ASB)]
        n = len(point)
        year, mon = int(month[:4]), int(month[5:])
        days = calendar.monthrange(year, mon)[1]
        weekday = np.array([calendar.weekday(year, mon, d) for d in range(1, days + 1)])
        day_w = np.where(weekday >= 4, 1.25, 1.0)                       # Friday to Sunday are busier
        day = rng.choice(days, size=n, p=day_w / day_w.sum()) + 1
        hour = rng.choice(24, size=n, p=ASB_HOURS / ASB_HOURS.sum())
        minute, second = rng.integers(0, 60, n), rng.integers(0, 60, n)
        order = np.lexsort((second, minute, hour, day))
        point, day, hour, minute, second = point[order], day[order], hour[order], minute[order], second[order]
        types = list(ASB_TYPE_SHARE)
        itype = rng.choice(len(types), size=n, p=list(ASB_TYPE_SHARE.values()))
        attended = rng.random(n) < ASB_ATTENDED
        minutes = np.clip(np.round(rng.lognormal(np.log(40), 0.8, n)), 3, 1440).astype(np.int64)
        number, roots, kinds = rng.integers(1, 240, n), rng.integers(0, len(STREET_ROOTS), (n, 2)), \
            rng.integers(0, len(STREET_KINDS), (n, 2))
        form = rng.integers(0, 4, n)
        subtype = np.empty(n, dtype=object)
        for k, t in enumerate(types):
            sel = np.flatnonzero(itype == k)
            subs = ASB_TYPES[t]
            subtype[sel] = np.asarray([s[0] for s in subs], dtype=object)[
                rng.choice(len(subs), size=len(sel), p=[s[1] for s in subs])]
        # CAD references number the calls of each day from 0001
        first_of_day = np.searchsorted(day, day)
        reference = [f"CAD{k - f + 1:04d}/{d:02d}{MONTHS[mon - 1].upper()}{year % 100:02d}"
                     for k, (f, d) in enumerate(zip(first_of_day.tolist(), day.tolist()))]
        pts = geo.points
        # the street of the map point, so that the free text names the police.uk location's street
        street = [pts[p][2][11:] if pts[p][2].startswith("On or near ") else "" for p in point.tolist()]
        other = [f"{STREET_ROOTS[a]} {STREET_KINDS[b]}" for a, b in zip(roots[:, 1].tolist(), kinds[:, 1].tolist())]
        forms = ("{n} {s}", "Outside {n} {s}", "Junction of {s} and {o}", "Rear of {n} {s}, near {o}")
        location = [forms[f].format(n=k, s=st, o=o) if st else ""
                    for f, k, st, o in zip(form.tolist(), number.tolist(), street, other)]
        when = [f"{month}-{d:02d} {h:02d}:{m:02d}:{s:02d}"
                for d, h, m, s in zip(day.tolist(), hour.tolist(), minute.tolist(), second.tolist())]
        response = np.where(attended, minutes.astype(str), "").tolist()
        return [[reference[i], when[i], pts[p][3], location[i], self.point_borough[p], response[i],
                 types[itype[i]], subtype[i]] for i, p in enumerate(point.tolist())]


# --- dirt and files ------------------------------------------------------------------------------------------

def _text(header: list[str], rows: list[list[str]], *, crlf: bool = False, free_text: int | None = None) -> str:
    """The CSV text; only the free-text column can hold a comma or quote, so only it is quoted (speed)."""
    end = "\r\n" if crlf else "\n"
    if free_text is not None:
        for r in rows:
            r[free_text] = _q(r[free_text])
    return end.join(",".join(r) for r in [header, *rows]) + end


def _dirty(kind: str, month: str, rows: list[list[str]], rng: np.random.Generator) -> list[list[str]]:
    """The real extracts' dirt (trailing spaces, other spellings) and a few planted invalid rows."""
    n = len(rows)
    if not n:
        return rows
    for i in rng.choice(n, size=max(1, n // 200), replace=False).tolist():   # trailing spaces
        rows[i] = [f + "  " if f else f for f in rows[i]]
    if kind in ("victims", "perpetrators"):
        for i in rng.choice(n, size=max(1, n // 500), replace=False).tolist():
            rows[i][5] = rows[i][5].upper()                                   # "MALE"
    if kind == "recorded-outcomes":
        for i in rng.choice(n, size=max(1, n // 100), replace=False).tolist():
            rows[i][2] = rows[i][2].upper()                                   # newer vintage: "WESTMINSTER"
            rows[i][5] = rows[i][5].lower()                                   # "y" / "n"
        for row in rows:
            row[2] = row[2].replace(" and ", " & ") if row[2].startswith("Kensington") else row[2]
    planted = min(PLANTED_REJECTS[kind], n)
    at = rng.choice(n, size=planted, replace=False).tolist()
    for j, i in enumerate(at):
        bad = list(rows[i])
        if kind == "victims":
            bad[0] = "" if j == 0 else bad[0]                                # Crime ID is blank
            bad[2] = bad[2] if j == 0 else _month_str(_month_index(month) - 1)   # not the file's month
        elif kind == "perpetrators":
            bad[1] = "first"                                                  # Suspect Number not a number
        elif kind == "recorded-outcomes":
            bad[7] = f"{month}-31x"                                           # Outcome date is not a date
        else:
            bad[1] = f"{month}-32 25:00:00" if j == 0 else bad[1]             # not a date and time
            bad[5] = bad[5] if j == 0 else "about an hour"                    # not a whole number
        rows.insert(i + 1, bad)
    return rows


FILES = {  # file kind -> (header, rows method, CRLF + BOM as saved through Excel)
    "victims": (VICTIMS_HEADER, "victim_rows", True),
    "perpetrators": (PERPETRATORS_HEADER, "perpetrator_rows", False),
    "recorded-outcomes": (OUTCOMES_HEADER, "outcome_rows", True),
    "asb": (ASB_HEADER, "asb_rows", False),
}


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """Write the four MPS extracts for every month in the range into out_dir/<YYYY-MM>/."""
    start, end = _month_index(first_month), _month_index(last_month)
    if start > end:
        raise ValueError(f"{first_month} is after {last_month}")
    synth, out_dir, written = MpsSynthesiser(seed, scale), Path(out_dir), []
    for index in range(start, end + 1):
        month = _month_str(index)
        for kind, (header, method, excel) in FILES.items():
            rows = _dirty(kind, month, getattr(synth, method)(month), _rng(seed + 1, kind, month, scale))
            path = out_dir / month / f"{month}-{AGENCY}-{kind}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = _text(header, rows, crlf=excel, free_text=3 if kind == "asb" else None).encode("utf-8")
            path.write_bytes((b"\xef\xbb\xbf" if excel else b"") + data)
            written.append(path)
            if progress:
                progress(path, len(rows))
        synth.uk._cache.clear()
    return written
