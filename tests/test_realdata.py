"""Conformance: every real police.uk file in ../shared/realdata loads with every row accounted for."""
from __future__ import annotations

import re
import shutil

import pytest
from helpers import data_rows

from safestats.ingest import ingest_file

pytestmark = pytest.mark.realdata


def published_name(name: str) -> str:
    """The shared copies carry a suffix (e.g. `.burglary-only`); land them under their published names."""
    m = re.match(r"(\d{4}-\d{2}-[a-z-]+?-(street|outcomes))", name)
    return m.group(1) + ".csv"


def real_files(realdata):
    return sorted((realdata / "police_uk").rglob("*.csv"))


def test_every_real_police_uk_file_conserves_rows(tmp_path, realdata, empty_raw, loader, contracts):
    files = real_files(realdata)
    assert len(files) >= 40
    for i, src in enumerate(files):
        landed = tmp_path / str(i) / published_name(src.name)
        landed.parent.mkdir()
        shutil.copy(src, landed)
        result = ingest_file(loader, landed, contracts)
        assert result.status == "loaded", result.message
        assert result.rows_read == data_rows(src), src.name
        assert result.rows_read == result.rows_loaded + result.rows_rejected
        loaded = empty_raw.execute(f"select count(*) from raw.{result.dataset} where _load_id = %s",
                                   (result.load_id,)).fetchone()[0]
        rejected = empty_raw.execute("select count(*) from raw._rejects where load_id = %s",
                                     (result.load_id,)).fetchone()[0]
        assert (loaded, rejected) == (result.rows_loaded, result.rows_rejected), src.name
    # Real files are clean: nothing should have been rejected.
    assert empty_raw.execute("select count(*) from raw._rejects").fetchone()[0] == 0


def test_a_real_revised_month_supersedes(tmp_path, realdata, empty_raw, loader, contracts):
    full = realdata / "police_uk/metropolitan_street_burglary_only/2019-01-metropolitan-street.burglary-only.csv"
    revised = realdata / "police_uk/metropolitan_street_excerpt/2019-01-metropolitan-street.head.csv"
    for folder, src in (("first", full), ("revised", revised)):
        (tmp_path / folder).mkdir()
        shutil.copy(src, tmp_path / folder / "2019-01-metropolitan-street.csv")
    one = ingest_file(loader, tmp_path / "first" / "2019-01-metropolitan-street.csv", contracts)
    two = ingest_file(loader, tmp_path / "revised" / "2019-01-metropolitan-street.csv", contracts)
    assert two.superseded == [one.load_id]
    statuses = dict(empty_raw.execute("select load_id, status from raw._loads").fetchall())
    assert statuses == {one.load_id: "superseded", two.load_id: "loaded"}
