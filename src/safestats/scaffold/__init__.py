"""`safestats dev new-dataset`: every file a new dataset needs, inferred from a sample extract.

sample.py reads the sample, infer.py infers the contract (names, types, blanks, file-name pattern), plan.py
decides what each column is for, render.py writes the models from templates/, checklist.py lists what only
a person can decide. Nothing existing is ever overwritten: the dataset is refused if any of its files exists.
Runbook: docs/adding-a-dataset.md."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from safestats.contracts import load_contracts
from safestats.scaffold import checklist as checklists
from safestats.scaffold import infer, render
from safestats.scaffold.plan import RESERVED, DatasetPlan, make_plan
from safestats.scaffold.sample import SampleError, read_sample

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
AGENCY = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(ValueError):
    """The dataset cannot be scaffolded (one line, for the command line)."""


@dataclass
class Scaffolded:
    plan: DatasetPlan
    written: list[Path]
    checklist: str


def check_name(name: str) -> None:
    if not NAME.match(name) or len(name) > 40:
        raise ScaffoldError(f"{name!r} is not a dataset name: snake_case, lower-case letters, digits and single "
                            "underscores, starting with a letter (e.g. community_reports), at most 40 characters")


def check_agency(agency: str) -> None:
    if not AGENCY.match(agency):
        raise ScaffoldError(f"{agency!r} is not an agency slug: lower-case letters, digits and hyphens (e.g. acme)")


def existing(project_dir: Path, name: str) -> list[str]:
    """What of the dataset is already there: any of its files, or a contract of the same dataset name."""
    found = [p for p in render.paths(name) if (project_dir / p).exists()]
    if (project_dir / "models" / "staging" / name).exists():
        found.append(f"models/staging/{name}/")
    if any(c.dataset == name or c.source == name for c in load_contracts(project_dir / "models")):
        found.append(f"a contract of the dataset {name} in models/staging/")
    return sorted(set(found))


def unreserved(columns: list[infer.InferredColumn]) -> list[infer.InferredColumn]:
    """Sample columns renamed where they would clash with the columns the models add (agency -> agency_as_sent)."""
    return [dataclasses.replace(c, name=f"{c.name}_as_sent") if c.name in RESERVED else c for c in columns]


def plan_dataset(name: str, sample_path: Path, agency: str | None, project_dir: Path) -> DatasetPlan:
    check_name(name)
    if agency:
        check_agency(agency)
    found = existing(project_dir, name)
    if found:
        raise ScaffoldError(f"the dataset {name} exists already ({', '.join(found)}): choose another name")
    try:
        sample = read_sample(sample_path)
    except SampleError as exc:
        raise ScaffoldError(f"the sample is unreadable: {exc}") from None
    try:
        file_name = infer.file_name_pattern(sample_path, agency, name)
    except ValueError as exc:
        raise ScaffoldError(str(exc)) from None
    check_agency(file_name.agency)
    columns = unreserved(infer.infer_columns(sample.headers, sample.rows))
    return make_plan(name, file_name.agency, columns, file_name, project_dir, len(sample.rows))


def write_files(project_dir: Path, files: dict[str, str]) -> list[Path]:
    """Each file created, never replaced: refuses before writing anything if one exists."""
    targets = {project_dir / rel: text for rel, text in files.items()}
    clash = [str(p) for p in targets if p.exists()]
    if clash:
        raise ScaffoldError(f"refusing to overwrite {', '.join(clash)}")
    written = []
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as fh:
            fh.write(text)
        written.append(path)
    return written


def new_dataset(name: str, sample_path: Path, agency: str | None = None,
                project_dir: Path | None = None) -> Scaffolded:
    """Infer the contract from the sample and write the dataset's files into the project."""
    from safestats.config import settings

    project_dir = Path(project_dir or settings().project_dir)
    plan = plan_dataset(name, Path(sample_path), agency, project_dir)
    items = checklists.checklist(plan, project_dir)
    written = write_files(project_dir, render.render(plan, items))
    return Scaffolded(plan, written, items)
