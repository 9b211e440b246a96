"""Tests for the synthetic police.uk extracts: format, quirks, determinism and calibration."""
from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from safestats.synth.calibration import CALIBRATION_PATH, build_calibration, london_boroughs
from safestats.synth.police_uk import (
    OUTCOMES_HEADER,
    STREET_HEADER,
    Synthesiser,
    expected_rows,
    synthesise_police_uk,
)

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("SAFESTATS_REALDATA", REPO.parent / "shared" / "realdata"))
BOROUGHS = set(london_boroughs(REPO / "seeds" / "london_boroughs.csv"))
HEX64 = re.compile(r"[0-9a-f]{64}")
SCALE = 0.05


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def prefix(lsoa_name: str) -> str:
    return lsoa_name[:-5]


@pytest.fixture(scope="module")
def quarter(tmp_path_factory) -> tuple[Path, list[Path], list[str]]:
    out = tmp_path_factory.mktemp("q")
    messages: list[tuple[Path, int]] = []
    paths = synthesise_police_uk("2024-05", "2024-07", out, seed=42, scale=SCALE,
                                 progress=lambda path, rows: messages.append((path, rows)))
    return out, paths, messages


@pytest.fixture(scope="module")
def met_month_full_scale() -> list[dict]:
    lines = Synthesiser(seed=42, scale=1.0).street_lines("metropolitan", "2024-06")
    return list(csv.DictReader(io.StringIO(",".join(STREET_HEADER) + "\n" + "".join(lines))))


def test_files_named_as_published_and_progress_per_file(quarter):
    out, paths, messages = quarter
    expected = [out / m / f"{m}-{f}-{k}.csv" for m in ("2024-05", "2024-06", "2024-07")
                for f, k in [("metropolitan", "street"), ("city-of-london", "street"), ("btp", "street"),
                             ("metropolitan", "outcomes"), ("city-of-london", "outcomes")]]
    assert paths == expected
    assert all(p.exists() for p in paths)
    # each file told once, with its data rows (every record of these files is one line)
    assert messages == [(p, p.read_bytes().count(b"\n") - 1) for p in paths]


def test_byte_identical_for_same_seed(quarter, tmp_path):
    out, paths, _ = quarter
    again = synthesise_police_uk("2024-05", "2024-07", tmp_path, seed=42, scale=SCALE)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_different_seed_differs(quarter, tmp_path):
    out, _, _ = quarter
    other = synthesise_police_uk("2024-06", "2024-06", tmp_path, seed=7, scale=SCALE)
    for p in other:
        assert p.read_bytes() != (out / "2024-06" / p.name).read_bytes(), p.name


def test_month_does_not_depend_on_range(quarter, tmp_path):
    out, _, _ = quarter
    alone = synthesise_police_uk("2024-06", "2024-06", tmp_path, seed=42, scale=SCALE)
    assert len(alone) == 5
    for p in alone:
        assert p.read_bytes() == (out / "2024-06" / p.name).read_bytes(), p.name


def test_exact_headers_utf8_lf_no_bom(quarter):
    _, paths, _ = quarter
    for p in paths:
        raw = p.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
        raw.decode("utf-8")
        header = STREET_HEADER if p.name.endswith("-street.csv") else OUTCOMES_HEADER
        assert raw.split(b"\n", 1)[0].decode() == ",".join(header)
        rows = list(csv.reader(io.StringIO(raw.decode())))
        assert all(len(r) == len(header) for r in rows)


def test_met_volume_at_scale_one(met_month_full_scale):
    assert 75_000 <= len(met_month_full_scale) <= 95_000
    for m in range(1, 13):  # the expected mean stays in the band all year round
        assert 75_000 <= expected_rows("metropolitan", f"2024-{m:02d}") <= 95_000
    asb = sum(r["Crime type"] == "Anti-social behaviour" for r in met_month_full_scale)
    assert 0.2 <= asb / len(met_month_full_scale) <= 0.3
    assert 600 <= expected_rows("city-of-london", "2024-06") <= 900
    assert 4_000 <= expected_rows("btp", "2024-06") <= 6_000


def test_blank_ids_and_outcomes_for_asb_and_btp(quarter):
    out, _, _ = quarter
    for force in ("metropolitan", "city-of-london", "btp"):
        rows = read(out / "2024-06" / f"2024-06-{force}-street.csv")
        assert rows and all(r["Month"] == "2024-06" and r["Context"] == "" for r in rows)
        for r in rows:
            if force == "btp" or r["Crime type"] == "Anti-social behaviour":
                assert r["Crime ID"] == "" and r["Last outcome category"] == ""
            else:
                assert HEX64.fullmatch(r["Crime ID"]) and r["Last outcome category"]
            assert r["Location"] == "No Location" or r["Location"].startswith("On or near ")
            if force == "btp":
                assert r["Location"].endswith(" (Station)")
    btp_types = {r["Crime type"] for r in read(out / "2024-06" / "2024-06-btp-street.csv")}
    assert "Anti-social behaviour" not in btp_types


def test_no_location_rows_last_with_blank_coordinates(quarter):
    out, _, _ = quarter
    for force in ("metropolitan", "city-of-london"):
        rows = read(out / "2024-06" / f"2024-06-{force}-street.csv")
        flags = [r["Location"] == "No Location" for r in rows]
        first = flags.index(True)
        assert all(flags[first:]) and not any(flags[:first])
        for r in rows[first:]:
            assert r["Longitude"] == r["Latitude"] == r["LSOA code"] == r["LSOA name"] == ""
        share = sum(flags) / len(rows)
        assert (0.002 <= share <= 0.02) if force == "metropolitan" else (0.02 <= share <= 0.15)
        named = [r["LSOA name"] for r in rows[:first]]
        assert named == sorted(named)  # ordered by LSOA name like the published files
    btp = read(out / "2024-06" / "2024-06-btp-street.csv")
    assert not any(r["Location"] == "No Location" for r in btp)
    scottish = [r for r in btp if not r["LSOA name"]]
    assert scottish and all(r["Latitude"] and float(r["Latitude"]) > 55 for r in scottish)


def test_rows_outside_london(quarter):
    out, _, _ = quarter
    met = read(out / "2024-06" / "2024-06-metropolitan-street.csv")
    outside = [r for r in met if r["LSOA name"] and prefix(r["LSOA name"]) not in BOROUGHS]
    assert outside and len(outside) / len(met) < 0.01
    for r in outside:  # just over the boundary, not across the country
        assert 51.2 < float(r["Latitude"]) < 51.8 and -0.7 < float(r["Longitude"]) < 0.4
    btp = read(out / "2024-06" / "2024-06-btp-street.csv")
    london = sum(prefix(r["LSOA name"]) in BOROUGHS for r in btp if r["LSOA name"])
    assert 0.3 <= london / len(btp) <= 0.6
    city = read(out / "2024-06" / "2024-06-city-of-london-street.csv")
    assert {prefix(r["LSOA name"]) for r in city if r["LSOA name"]} - {"City of London"}


def test_london_lsoa_names_use_seed_boroughs(quarter):
    out, paths, _ = quarter
    cal = json.loads(CALIBRATION_PATH.read_text())
    allowed_outside = set(cal["met"]["neighbour_districts"])
    code_names: dict[str, set] = {}
    for p in paths:
        for r in read(p):
            if not r["LSOA name"]:
                continue
            assert re.fullmatch(r"[EW]01\d{6}", r["LSOA code"]) and re.fullmatch(r".+ \d{3}[A-Z]", r["LSOA name"])
            code_names.setdefault(r["LSOA code"], set()).add(r["LSOA name"])
            if r["LSOA code"].startswith("E019"):  # the synthetic London range
                assert prefix(r["LSOA name"]) in BOROUGHS
            if "city-of-london" in p.name:
                assert prefix(r["LSOA name"]) in BOROUGHS
            elif "metropolitan" in p.name:
                assert prefix(r["LSOA name"]) in BOROUGHS | allowed_outside
    assert all(len(n) == 1 for n in code_names.values())  # one name per code


def test_duplicate_crime_id_with_different_outcomes(met_month_full_scale):
    ids = Counter(r["Crime ID"] for r in met_month_full_scale if r["Crime ID"])
    twice = [i for i, n in ids.items() if n == 2]
    assert 0 < len(twice) < 0.005 * len(ids)
    outcomes = {}
    for r in met_month_full_scale:
        if r["Crime ID"] in twice:
            outcomes.setdefault(r["Crime ID"], []).append(r["Last outcome category"])
    assert all(a != b for a, b in outcomes.values())


def test_outcomes_refer_to_same_or_earlier_street_crimes(tmp_path):
    paths = synthesise_police_uk("2023-01", "2024-01", tmp_path, seed=3, scale=0.02)
    for force in ("metropolitan", "city-of-london"):
        street_ids: dict[str, set] = {}
        for p in paths:
            if p.name.endswith(f"-{force}-street.csv"):
                street_ids[p.name[:7]] = {r["Crime ID"] for r in read(p) if r["Crime ID"]}
        outcomes = read(tmp_path / "2024-01" / f"2024-01-{force}-outcomes.csv")
        assert outcomes
        earlier = set().union(*street_ids.values())
        for r in outcomes:
            assert r["Month"] == "2024-01" and r["Outcome type"] and r["Crime ID"] in earlier
        # about 60-85% as many outcomes as the month's street crimes (ASB has none)
        street = read(tmp_path / "2024-01" / f"2024-01-{force}-street.csv")
        crimes = sum(r["Crime type"] != "Anti-social behaviour" for r in street)
        if force == "metropolitan":
            assert 0.6 <= len(outcomes) / crimes <= 0.85
    assert not (tmp_path / "2024-01" / "2024-01-btp-outcomes.csv").exists()


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        synthesise_police_uk("2024-13", "2024-14", tmp_path)
    with pytest.raises(ValueError):
        synthesise_police_uk("2024-06", "2024-05", tmp_path)
    with pytest.raises(ValueError):
        synthesise_police_uk("2024-06", "2024-06", tmp_path, scale=0)


def test_calibration_is_consistent():
    cal = json.loads(CALIBRATION_PATH.read_text())
    assert set(cal["boroughs"]) == BOROUGHS
    assert set(cal["met"]["borough_type_share"]) == BOROUGHS - {"City of London"}
    assert sum(sum(v.values()) for v in cal["met"]["borough_type_share"].values()) == pytest.approx(1, abs=1e-3)
    assert 4_600 <= sum(b["n_lsoa"] for b in cal["boroughs"].values()) <= 5_000
    assert sum(cal["seasonal_factor"].values()) == pytest.approx(12, abs=1e-2)
    for mix in (cal["city"]["type_share"], cal["btp"]["type_share"], *cal["last_outcome_share"].values()):
        assert sum(mix.values()) == pytest.approx(1, abs=1e-3)
    for b in cal["boroughs"].values():  # centroids inside Greater London
        assert 51.28 < b["lat"] < 51.70 and -0.52 < b["lon"] < 0.34


@pytest.mark.skipif(not (REALDATA / "mps_aggregates").is_dir(), reason=f"real data not found at {REALDATA}")
def test_committed_calibration_is_rebuilt_from_real_data():
    assert build_calibration(REALDATA) == json.loads(CALIBRATION_PATH.read_text())


def test_ward_lookup_places_every_synthetic_lsoa_in_a_ward_of_its_borough(tmp_path):
    """The synthetic ONS lookup: ONS's header, every LSOA the generators use, each in a WD19 ward of its own
    borough, every ward used; the same bytes whatever the months."""
    from safestats.synth import london, ons
    from safestats.synth.las import _lsoas_by_borough

    first = ons.synthesise("2025-01", "2025-01", tmp_path / "a")[0]
    assert first.name == "2019-12-ons-lsoa-ward-lookup.csv"
    assert first.read_bytes() == ons.synthesise("2024-03", "2024-05", tmp_path / "b")[0].read_bytes()
    with first.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ons.HEADER
    wards = london.wards()
    placed = {r["LSOA11CD"]: r for r in rows}
    assert len(placed) == len(rows)
    for code, (lsoas, _, _) in _lsoas_by_borough().items():
        for lsoa in lsoas:
            assert placed[lsoa]["LAD19CD"] == code and placed[lsoa]["WD19CD"] in wards[code]
    assert {r["WD19CD"] for r in rows} == {w for ws in wards.values() for w in ws}


def test_lsoa_centroids_place_every_lsoa_of_the_lookup_where_its_crimes_are(tmp_path):
    """The synthetic ONS centroids: the boundaries file's LAT and LONG for every LSOA of the lookup, each
    within a few hundred metres of the mean of the snap points police.uk rows in that LSOA sit on."""
    from safestats.synth import ons
    from safestats.synth.police_uk import POINTS_PER_LSOA, geography

    lookup, centroids = ons.synthesise("2025-01", "2025-01", tmp_path)
    assert centroids.name == "2011-12-ons-lsoa-centroids.csv"
    with centroids.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ons.CENTROIDS_HEADER
    with lookup.open(encoding="utf-8", newline="") as fh:
        assert [r["LSOA11CD"] for r in rows] == [r["LSOA11CD"] for r in csv.DictReader(fh)]
    geo = geography()
    snaps: dict[str, list[tuple[float, float]]] = {}
    for indices in geo.borough_lsoas.values():
        for i in indices.tolist():
            for lon, lat, _, code, _ in geo.points[i * POINTS_PER_LSOA:(i + 1) * POINTS_PER_LSOA]:
                snaps.setdefault(code, []).append((float(lat), float(lon)))
    for r in rows:
        points = snaps[r["LSOA11CD"]]
        mean_lat = sum(p[0] for p in points) / len(points)
        mean_lon = sum(p[1] for p in points) / len(points)
        assert abs(float(r["LAT"]) - mean_lat) < 0.004 and abs(float(r["LONG"]) - mean_lon) < 0.006, r
