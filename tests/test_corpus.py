"""The broken-extract corpus (tests/corpus/): every damaged file ends loaded or quarantined exactly as its
expected.yml says, each row loaded or rejected for the stated reason, and no file stops the others."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import STREET_HEADER, street_row, write_csv

from safestats.ingest import FileResult, ingest_landing

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yml").is_file())
ARCHIVES = (".zip", ".gz")
# A name git cannot hold portably (not UTF-8): written by the test itself, with a clean street extract inside.
NOT_UTF8_NAME = b"2024-01-metropolitan-street-\xe9t\xe9.csv"


def expected_files(case: str) -> list[dict]:
    doc = yaml.safe_load((CORPUS / case / "expected.yml").read_text(encoding="utf-8"))
    return doc["files"] if "files" in doc else [doc]


def land(case: str, landing: Path) -> None:
    shutil.copytree(CORPUS / case, landing, ignore=shutil.ignore_patterns("expected.yml"))


def write_not_utf8_name(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    scratch = write_csv(folder / "clean.tmp", STREET_HEADER, [street_row(crime_id=f"c{i}") for i in range(3)])
    os.rename(bytes(scratch), os.path.join(bytes(folder), NOT_UTF8_NAME))
    return {"file": os.fsdecode(NOT_UTF8_NAME), "status": "quarantined", "message": "not valid UTF-8"}


def file_name_of(conn, result: FileResult) -> set[str]:
    """The names a result may go by: its path's, and the name its load was recorded under."""
    names = {result.path.name}
    if result.load_id is not None:
        row = conn.execute("select file_name from raw._loads where load_id = %s", (result.load_id,)).fetchone()
        if row:
            names.add(row[0])
    return names


def check_file(conn, expected: dict, result: FileResult, where: str) -> None:
    got = (f"{where}: {result.status} read={result.rows_read} loaded={result.rows_loaded} "
           f"rejected={result.rows_rejected} message={result.message!r}")
    assert result.status == expected["status"], got
    if "message" in expected:
        assert expected["message"].casefold() in result.message.casefold(), got
    if expected["status"] == "quarantined":
        return
    assert result.rows_read == result.rows_loaded + result.rows_rejected, got
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
        expected["rows_read"], expected["rows_loaded"], expected["rows_rejected"]), got
    table = f"raw.{expected['dataset']}"
    in_raw = conn.execute(f"select count(*) from {table} where _load_id = %s", (result.load_id,)).fetchone()[0]
    rejects = dict(conn.execute("select source_row_number, reason from raw._rejects where load_id = %s",
                                (result.load_id,)).fetchall())
    assert in_raw + len(rejects) == expected["rows_read"], f"{got}; {in_raw} rows in {table}, {len(rejects)} rejects"
    wanted = {int(n): why for n, why in (expected.get("rejected_rows") or {}).items()}
    assert set(rejects) == set(wanted), f"{got}; rejected rows {rejects}, expected {wanted}"
    for n, why in wanted.items():
        assert why.casefold() in rejects[n].casefold(), f"{where}: row {n}: {rejects[n]!r}, expected {why!r}"
    for n, values in (expected.get("loaded_values") or {}).items():
        for column, value in values.items():
            row = conn.execute(f"select {column} from {table} where _load_id = %s and _source_row_number = %s",
                               (result.load_id, int(n))).fetchone()
            assert row is not None, f"{where}: row {n} is not in {table}"
            assert row[0] == value, f"{where}: row {n} {column} is {row[0]!r}, expected {value!r}"


def check_case(conn, case: str, expected: list[dict], results: list[FileResult]) -> None:
    """Every expected file ended with exactly one result, as expected; any other result is an archive's own."""
    landed = {p.name for p in (CORPUS / case).iterdir() if p.name != "expected.yml"}
    matched = set()
    for want in expected:
        mine = [r for r in results if want["file"] in file_name_of(conn, r)]
        assert len(mine) == 1, f"{case}/{want['file']}: {len(mine)} results, expected 1 ({[r.path for r in results]})"
        check_file(conn, want, mine[0], f"{case}/{want['file']}")
        matched.add(id(mine[0]))
    strays = [r for r in results if id(r) not in matched
              and not (r.path.name in landed and r.path.name.endswith(ARCHIVES) and r.status != "quarantined")]
    assert not strays, f"{case}: results nobody expected: {[(r.path.name, r.status, r.message) for r in strays]}"


def test_the_corpus_is_big_enough_and_covers_every_dataset(contracts):
    assert len(CASES) >= 55
    per_dataset = {}
    for case in CASES:
        for want in expected_files(case):
            if want.get("dataset"):
                per_dataset.setdefault(want["dataset"], set()).add(case)
    thin = {c.dataset: len(per_dataset.get(c.dataset, ())) for c in contracts
            if len(per_dataset.get(c.dataset, ())) < 2}
    assert not thin, f"datasets with fewer than 2 cases: {thin}"


@pytest.mark.parametrize("case", CASES)
def test_case(case, tmp_path, empty_raw, loader, contracts):
    landing = tmp_path / "landing"
    land(case, landing)
    results = ingest_landing(loader, landing, contracts)
    check_case(empty_raw, case, expected_files(case), results)


def test_a_file_name_that_is_not_utf8(tmp_path, empty_raw, loader, contracts):
    landing = tmp_path / "landing"
    expected = write_not_utf8_name(landing)
    results = ingest_landing(loader, landing, contracts)
    assert len(results) == 1
    check_file(empty_raw, expected, results[0], "not-utf8-name")


def test_the_whole_corpus_in_one_landing_folder(tmp_path, empty_raw, loader, contracts):
    """Every case at once, each in a folder of its own: no file stops the others, each ends as expected."""
    landing = tmp_path / "landing"
    for case in CASES:
        land(case, landing / case)
    odd = write_not_utf8_name(landing / "not-utf8-name")
    results = ingest_landing(loader, landing, contracts)
    by_case: dict[str, list[FileResult]] = {}
    unplaced = []
    for r in results:
        try:
            by_case.setdefault(r.path.resolve().relative_to(landing.resolve()).parts[0], []).append(r)
        except ValueError:
            unplaced.append(r)      # e.g. a member unpacked elsewhere: placed by its (corpus-unique) name
    for r in unplaced:
        owner = [c for c in CASES if any(w["file"] in file_name_of(empty_raw, r) for w in expected_files(c))]
        assert len(owner) == 1, f"{r.path}: cannot tell which case it belongs to ({owner})"
        by_case.setdefault(owner[0], []).append(r)
    for case in CASES:
        check_case(empty_raw, case, expected_files(case), by_case.get(case, []))
    assert [r.status for r in by_case.get("not-utf8-name", [])] == ["quarantined"]
    check_file(empty_raw, odd, by_case["not-utf8-name"][0], "not-utf8-name")
