"""Whatever a file holds, every record is loaded or rejected with its line, and every file ends recorded."""
from __future__ import annotations

import gzip
import os
import zipfile

import pytest
from helpers import STREET_HEADER, street_row, write_csv

from safestats import ingest
from safestats.ingest import ingest_file, ingest_landing

NAME = "2024-01-metropolitan-street.csv"


def csv_text(rows) -> str:
    return ",".join(STREET_HEADER) + "\n" + "".join(",".join(r) + "\n" for r in rows)


def rows(n: int, **overrides) -> list[list[str]]:
    return [street_row(crime_id=f"c{i}", **overrides) for i in range(1, n + 1)]


def counts(result):
    return result.status, result.rows_read, result.rows_loaded, result.rows_rejected


def reject_reasons(conn, load_id) -> dict[int, str]:
    return dict(conn.execute("select source_row_number, reason from raw._rejects where load_id = %s",
                             (load_id,)).fetchall())


def test_an_unbalanced_quote_rejects_its_line_and_swallows_nothing(tmp_path, empty_raw, loader, contracts):
    lines = csv_text(rows(10)).splitlines()
    lines[3] = lines[3].replace("On or near Camden Road", '"On or near Camden Road')   # never closed
    path = tmp_path / NAME
    path.write_text("\n".join(lines) + "\n")
    result = ingest_file(loader, path, contracts)
    assert counts(result) == ("loaded", 10, 9, 1)
    assert "unbalanced quote" in reject_reasons(empty_raw, result.load_id)[3]
    ids = [r[0] for r in empty_raw.execute("select crime_id from raw.police_uk_street_crimes order by 1")]
    assert ids == sorted(f"c{i}" for i in range(1, 11) if i != 3)


def test_a_quote_inside_a_plain_field_is_data_and_a_quoted_line_break_is_one_record(
        tmp_path, empty_raw, loader, contracts):
    text = csv_text(rows(3)).replace("On or near Camden Road", 'On or near O"Brien Road', 1)
    text += 'c4,2024-01,M,M,-0.14,51.54,"On or near\nCamden Road",E01000907,Camden 001A,Burglary,,\n'
    path = tmp_path / NAME
    path.write_text(text)
    result = ingest_file(loader, path, contracts)
    assert counts(result) == ("loaded", 4, 4, 0)
    locations = [r[0] for r in empty_raw.execute(
        "select location from raw.police_uk_street_crimes order by _source_row_number")]
    assert locations[0] == 'On or near O"Brien Road' and locations[3] == "On or near\nCamden Road"


def test_a_misplaced_quote_and_a_nul_byte_reject_their_lines(tmp_path, empty_raw, loader, contracts):
    lines = csv_text(rows(5)).splitlines()
    lines[2] = lines[2].replace("Camden 001A", '"Camden" 001A')
    lines[4] = lines[4].replace("Burglary", "Burg\0lary")
    path = tmp_path / NAME
    path.write_text("\n".join(lines) + "\n")
    result = ingest_file(loader, path, contracts)
    assert counts(result) == ("loaded", 5, 3, 2)
    reasons = reject_reasons(empty_raw, result.load_id)
    assert "misplaced quote on line 3" in reasons[2] and "NUL byte" in reasons[4]


@pytest.mark.parametrize("separator, word", [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_by_something_else_says_so(tmp_path, empty_raw, loader, contracts, separator, word):
    path = tmp_path / NAME
    path.write_text(csv_text(rows(2)).replace(",", separator))
    result = ingest_file(loader, path, contracts)
    assert result.status == "quarantined" and f"separated by {word}, not commas" in result.message


def test_utf16_text_is_read(tmp_path, empty_raw, loader, contracts):
    path = tmp_path / NAME
    path.write_bytes(csv_text(rows(3, Location="On or near Café Row")).encode("utf-16"))
    result = ingest_file(loader, path, contracts)
    assert counts(result) == ("loaded", 3, 3, 0)
    assert empty_raw.execute("select encoding from raw._loads where load_id = %s",
                             (result.load_id,)).fetchone()[0] == "utf-16-le"
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes where location like '%Café%'"
                             ).fetchone()[0] == 3


def test_archives_are_unpacked_and_each_member_recorded(tmp_path, empty_raw, loader, contracts):
    land = tmp_path / "land"
    land.mkdir()
    (land / NAME).write_bytes(gzip.compress(csv_text(rows(2)).encode()))                   # gzip named .csv
    (land / "2024-02-metropolitan-street.csv.gz").write_bytes(
        gzip.compress(csv_text(rows(3, month="2024-02")).encode()))
    with zipfile.ZipFile(land / "extracts.zip", "w") as z:
        z.writestr("2024-03-metropolitan-street.csv", csv_text(rows(4, month="2024-03")))
        z.writestr("readme.txt", "not an extract")
        z.writestr("inner.zip", gzip.compress(b"x"))
    (land / "2024-04-metropolitan-street.7z").write_bytes(b"7z\xbc\xaf'\x1c")
    results = {r.message.split(":")[0] if r.status == "quarantined" else r.load_id: r
               for r in ingest_landing(loader, land, contracts)}
    loaded = sorted(r.rows_loaded for r in results.values() if r.status == "loaded")
    assert loaded == [2, 3, 4]
    quarantined = {k: r.message for k, r in results.items() if r.status == "quarantined"}
    assert set(quarantined) == {"readme.txt", "inner.zip", "2024-04-metropolitan-street.7z"}
    assert "archive inside the archive" in quarantined["inner.zip"]
    assert "is not unpacked" in quarantined["2024-04-metropolitan-street.7z"]
    paths = [r[0] for r in empty_raw.execute("select file_path from raw._loads where status = 'loaded'")]
    assert any("extracts.zip (zip) -> 2024-03-metropolitan-street.csv" in p for p in paths)


def test_binary_a_future_month_and_a_name_that_is_not_utf8_are_recorded(tmp_path, empty_raw, loader, contracts,
                                                                        cfg):
    land = tmp_path / "land"
    land.mkdir()
    (land / NAME).write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    write_csv(land / "2031-01-metropolitan-street.csv", STREET_HEADER, rows(1, month="2031-01"))
    odd = os.fsencode(land) + b"/2024-02-metropolitan-street\xe9.csv"
    with open(odd, "wb") as fh:
        fh.write(csv_text(rows(1, month="2024-02")).encode())
    results = ingest_landing(loader, land, contracts)
    assert [r.status for r in results] == ["quarantined"] * 3
    messages = " | ".join(r.message for r in results)
    assert "not a text file" in messages and "2031-01 is in the future" in messages
    assert "2024-02-metropolitan-street\\xe9.csv: the file's name is not valid UTF-8" in messages
    assert empty_raw.execute("select count(*) from raw._loads where status = 'quarantined'").fetchone()[0] == 3
    # a file whose name says no dataset or agency is recorded without them, and the next build's tests of the
    # loads still pass: a bad file never stops the refresh of the others
    from safestats import dbt

    tested = dbt.run(["test", "--select", "source:ingest.loads",
                      "--exclude", "test_name:active_raw_rows_are_staged"], cfg)   # (those read staging's views)
    assert tested.success and tested.count("test", "pass") >= 5, tested.failures


def test_an_unexpected_failure_quarantines_that_file_and_the_others_go_on(
        tmp_path, empty_raw, loader, contracts, monkeypatch):
    land = tmp_path / "land"
    write_csv(land / "2024-01-metropolitan-street.csv", STREET_HEADER, rows(2))
    write_csv(land / "2024-02-metropolitan-street.csv", STREET_HEADER, rows(2, month="2024-02"))
    real = ingest.shape_of

    def breaks_on_january(data):
        if b"2024-01" in data:
            raise ZeroDivisionError("a fault nobody foresaw\0")
        return real(data)

    monkeypatch.setattr(ingest, "shape_of", breaks_on_january)
    results = ingest_landing(loader, land, contracts)
    assert [r.status for r in results] == ["quarantined", "loaded"]
    assert "ZeroDivisionError: a fault nobody foresaw\\0" in results[0].message
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0] == 2
