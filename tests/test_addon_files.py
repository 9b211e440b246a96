"""The files sync writes for Superset's add-on: the conditions of use as published (checked, with the digest the
audit records) and each user's agreement in words. No server needed."""
from __future__ import annotations

import json
import shutil

import pytest

from safestats.config import PROJECT_DIR, Settings
from safestats.policies import service
from safestats.superset import addon_files, server


@pytest.fixture
def project(tmp_path):
    (tmp_path / "access_policies").mkdir()
    shutil.copy(PROJECT_DIR / "access_policies" / "conditions_of_use.yml", tmp_path / "access_policies")
    cfg = Settings(project_dir=tmp_path, home=tmp_path / "home", database_url=None)
    server.paths(cfg).dir.mkdir(parents=True)
    return cfg


def test_the_conditions_are_published_with_their_version_and_digest(project):
    published = addon_files.publish_conditions(project)
    on_disk = json.loads((server.paths(project).dir / "conditions.json").read_text())
    assert on_disk == published and published["version"] >= 2 and len(published["sha256"]) == 64
    assert any("jigsaw" in clause for clause in published["clauses"])
    source = project.project_dir / "access_policies" / "conditions_of_use.yml"
    source.write_text(source.read_text().replace("You use SafeStats only", "You use SafeStats solely"))
    assert addon_files.publish_conditions(project)["sha256"] != published["sha256"]   # any edit shows


@pytest.mark.parametrize("broken", ["version: two\nclauses: [a]\n", "version: 3\nclauses: []\n", "clauses: [a]\n"])
def test_conditions_without_a_version_or_clauses_are_refused(project, broken):
    (project.project_dir / "access_policies" / "conditions_of_use.yml").write_text(broken)
    with pytest.raises(server.SupersetError, match="conditions_of_use.yml"):
        addon_files.publish_conditions(project)


def test_each_users_coverage_names_the_places_their_agreement_reaches():
    cfg = Settings(project_dir=PROJECT_DIR, home=PROJECT_DIR, database_url=None)
    organisations = service.load(cfg).agreements.organisations
    places = addon_files.place_names(cfg)
    camden = dict((d, (level, rows)) for d, level, rows in addon_files.coverage(organisations["camden"], places))
    assert camden["police_uk_street_crimes"] == ("record", "Camden")
    assert camden["istv_assault_attendances"] == ("aggregate", "all of London")
    trust = addon_files.coverage(organisations["whittington-health"], places)
    assert trust == [["istv_assault_attendances", "record", "Whittington Hospital"]]
