"""What the trend reports measure, each from one released relation and column. Where two sources measure one
thing (robbery recorded by the Metropolitan Police, or robbery in the police.uk street crimes), the thing is a
`concept` and a report shows the first source, in this order, that its readers' agreement gives them London-wide
(`audience.trend_share`)."""
from __future__ import annotations

from dataclasses import dataclass

MPS = "Metropolitan Police Service"
POLICE_UK = "Metropolitan, City of London and British Transport Police (police.uk)"


@dataclass(frozen=True)
class Measure:
    key: str
    concept: str        # what it measures: one source per concept in a report
    label: str          # as a table row starts
    phrase: str         # mid-sentence
    relation: str       # in schema release (and marts, where agreements grant it)
    column: str
    category_level: str
    category_code: str
    agency: str
    dataset: str
    of_residents: bool = True   # False where counted at a site (a hospital), so a rate is not one of residents


MEASURES = (
    Measure("violence_with_injury", "violence", "Violence with injury", "violence with injury",
            "agg_recorded_crimes_monthly", "recorded_crime_count", "category", "violence_with_injury", MPS,
            "Recorded crime, by offence"),
    Measure("street_violence", "violence", "Violence and sexual offences", "violence and sexual offences",
            "agg_street_crimes_monthly", "street_crime_count", "category", "violence_unspecified", POLICE_UK,
            "Street-level crime, violence and sexual offences"),
    Measure("knife_crime", "knife_crime", "Knife crime", "knife crime", "agg_recorded_crimes_monthly",
            "recorded_crime_count", "category", "knife_or_sharp_instrument", MPS,
            "Recorded crime flagged knife or sharp instrument"),
    Measure("robbery", "robbery", "Robbery", "robbery", "agg_recorded_crimes_monthly", "recorded_crime_count",
            "category", "robbery", MPS, "Recorded crime, by offence"),
    Measure("street_robbery", "robbery", "Robbery", "robbery", "agg_street_crimes_monthly", "street_crime_count",
            "category", "robbery", POLICE_UK, "Street-level crime, robbery"),
    Measure("anti_social_behaviour", "anti_social_behaviour", "Anti-social behaviour", "anti-social behaviour",
            "agg_asb_incidents_monthly", "asb_incident_count", "all", "all", MPS, "ASB incidents reported to police"),
    Measure("street_anti_social_behaviour", "anti_social_behaviour", "Anti-social behaviour",
            "anti-social behaviour", "agg_street_crimes_monthly", "street_crime_count", "category",
            "anti_social_behaviour", POLICE_UK, "Street-level crime, anti-social behaviour"),
    Measure("deliberate_fires", "deliberate_fires", "Deliberate fires", "deliberate fires",
            "agg_fire_incidents_monthly", "fire_incident_count", "category", "deliberate_fire", "London Fire Brigade",
            "Incidents attended"),
    Measure("ambulance_violence", "ambulance_violence", "Ambulance violence dispatches",
            "ambulance dispatches to violence", "agg_ambulance_violence_dispatches_monthly",
            "ambulance_violence_dispatch_count", "all", "all", "London Ambulance Service",
            "Dispatches to violence-related calls"),
    Measure("ed_assault", "ed_assault", "A&E assault attendances", "A&E assault attendances",
            "agg_ed_assault_attendances_monthly", "ed_assault_attendance_count", "all", "all",
            "NHS emergency departments (ISTV)", "ISTV assault attendances", of_residents=False),
)
BY_KEY = {m.key: m for m in MEASURES}

CORE_RELATION = "agg_borough_violence_core_monthly"
CORE_COUNTS = ("police_violence_count", "knife_crime_count", "ambulance_violence_dispatch_count",
               "ed_assault_attendance_count")
