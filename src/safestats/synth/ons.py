"""ONS reference files for the synthetic LSOAs: the LSOA -> ward -> borough lookup, in ONS's best-fit lookup
format, so ward aggregates (and their secondary suppression) are exercised on every dataset that places rows
in an LSOA; and each LSOA's centroid, in the columns of ONS's LSOA boundaries file, so hotspot maps place
the LSOAs where the synthetic crimes are."""
from __future__ import annotations

from pathlib import Path

from safestats.synth import Progress, london
from safestats.synth.police_uk import POINTS_PER_LSOA

DATASET = "ons_lsoa_ward_lookup"
VINTAGE = "2019-12"   # the ward boundaries of london_wards.json (WD19)
HEADER = ["FID", "LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM", "LAD19CD", "LAD19NM"]
CENTROIDS_VINTAGE = "2011-12"   # the LSOAs are 2011 LSOAs, as police.uk's
CENTROIDS_HEADER = ["FID", "LSOA11CD", "LSOA11NM", "BNG_E", "BNG_N", "LONG", "LAT"]


def lookup_rows() -> list[list[str]]:
    """Every synthetic London LSOA in one ward of its own borough: each borough's LSOAs, in code order, split
    into contiguous runs over its WD19 wards (a ward holds a handful of LSOAs, as in London)."""
    from safestats.synth.police_uk import geography

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


def centroid_rows() -> list[list[str]]:
    """The centre of every synthetic London LSOA (the point its crimes' snap points scatter around), in the
    lookup's order. The synthetic map has no British National Grid: BNG_E and BNG_N are left blank."""
    from safestats.synth.police_uk import geography

    geo, lookup = geography(), lookup_rows()
    index = {geo.points[i * POINTS_PER_LSOA][3]: i   # LSOA i owns points i*K ..
             for indices in geo.borough_lsoas.values() for i in indices.tolist()}
    rows = []
    for n, (_, code, name, *_rest) in enumerate(lookup, start=1):
        lat, lon = geo.lsoa_xy[index[code]]
        rows.append([str(n), code, name, "", "", f"{lon:.6f}", f"{lat:.6f}"])
    return rows


def synthesise(first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
               progress: Progress | None = None) -> list[Path]:
    """Two files, the same whatever the months, seed or scale (they describe places): written once per call,
    byte-identical, so loading them again is skipped by their checksums."""
    london.months(first_month, last_month)   # the same argument checks as every generator
    folder = Path(out_dir) / "ons"
    written = []
    for path, header, rows in (
            (folder / f"{VINTAGE}-ons-lsoa-ward-lookup.csv", HEADER, lookup_rows()),
            (folder / f"{CENTROIDS_VINTAGE}-ons-lsoa-centroids.csv", CENTROIDS_HEADER, centroid_rows())):
        london.write_text(path, london.csv_text(header, rows))
        if progress:
            progress(path, len(rows))
        written.append(path)
    return written
