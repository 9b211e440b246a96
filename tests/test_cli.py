"""The command line's own behaviour: synth writes published file names, bad arguments say why."""
from __future__ import annotations

import subprocess
import sys


def safestats(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "safestats.cli", *args], capture_output=True, text=True, **kwargs)


def test_synth_writes_police_uk_files(tmp_path):
    out = safestats("synth", "--from", "2024-11", "--to", "2024-12", "--out", str(tmp_path), "--scale", "0.01",
                    "--dataset", "police_uk")
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in tmp_path.rglob("*.csv"))
    assert names == sorted(f"{m}-{f}.csv" for m in ("2024-11", "2024-12")
                           for f in ("metropolitan-street", "city-of-london-street", "btp-street",
                                     "metropolitan-outcomes", "city-of-london-outcomes"))


def test_a_bad_month_is_refused_with_the_reason(tmp_path):
    out = safestats("synth", "--from", "2024-13", "--to", "2024-12", "--out", str(tmp_path))
    assert out.returncode == 2
    assert "'2024-13' is not a month (YYYY-MM)" in out.stderr


def test_refresh_of_a_missing_landing_folder_is_one_clear_line(cfg, tmp_path):
    out = safestats("refresh", "--landing", str(tmp_path / "nowhere"))
    assert out.returncode != 0
    assert "nowhere" in out.stderr and "does not exist" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
