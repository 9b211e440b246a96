"""The ONS LSOA -> ward -> borough lookup for the synthetic LSOAs, in ONS's best-fit lookup format, so ward
aggregates (and their secondary suppression) are exercised on every dataset that places rows in an LSOA."""
from __future__ import annotations

from pathlib import Path

from safestats.synth import Progress, london

DATASET = "ons_lsoa_ward_lookup"
VINTAGE = "2019-12"   # the ward boundaries of london_wards.json (WD19)
HEADER = ["FID", "LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM", "LAD19CD", "LAD19NM"]


def lookup_rows() -> list[list[str]]:
    """Every synthetic London LSOA in one ward of its own borough: each borough's LSOAs, in code order, split
    into contiguous runs over its WD19 wards (a ward holds a handful of LSOAs, as in London)."""
    from safestats.synth.police_uk import POINTS_PER_LSOA, geography

    geo, wards = geography(), london.wards()
    codes_by_name = {name: code for code, name in london.BOROUGHS}
    rows = []
    for name, indices in sorted(geo.borough_lsoas.items(), key=lambda kv: codes_by_name[kv[0]]):
        borough = codes_by_name[name]
        lsoas = sorted({geo.points[i * POINTS_PER_LSOA][3:5] for i in indices.tolist()})
        its_wards = wards[borough]
        for n, (code, lsoa_name) in enumerate(lsoas):
            ward = its_wards[n * len(its_wards) // len(lsoas)]
            rows.append([str(len(rows) + 1), code, lsoa_name, ward, f"{name} ward {ward[-4:]}", borough, name])
    return rows


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """One file, the same whatever the months, seed or scale (it describes places): written once per call,
    byte-identical, so loading it again is skipped by its checksum."""
    london.months(first_month, last_month)   # the same argument checks as every generator
    path = Path(out_dir) / "ons" / f"{VINTAGE}-ons-lsoa-ward-lookup.csv"
    rows = lookup_rows()
    london.write_text(path, london.csv_text(HEADER, rows))
    if progress:
        progress(path, len(rows))
    return [path]
