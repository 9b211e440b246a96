"""Where things live: the project directory, SAFESTATS_HOME and the database URL override."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    home: Path
    database_url: str | None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.json"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"


def settings() -> Settings:
    """Read the environment afresh each call, so tests can point it elsewhere."""
    home = Path(os.environ.get("SAFESTATS_HOME") or PROJECT_DIR / ".safestats").resolve()
    return Settings(
        project_dir=Path(os.environ.get("SAFESTATS_PROJECT_DIR") or PROJECT_DIR),
        home=home,
        database_url=os.environ.get("SAFESTATS_DATABASE_URL") or None,
    )
