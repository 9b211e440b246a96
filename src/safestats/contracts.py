"""Extract contracts, read from the dbt source YAML (`meta.ingest` on a table, `meta.extract` on its columns)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from safestats.config import settings

COLUMN_TYPES = ("text", "month", "longitude", "latitude", "integer", "number", "date",
                "excel_date", "time", "timestamp")


class ContractError(ValueError):
    """The contract YAML itself is wrong."""


def normalise_header(name: str) -> str:
    """Header names compare without BOM, case or surrounding/duplicated whitespace."""
    return " ".join(name.replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True)
class ContractColumn:
    name: str
    header: str
    type: str = "text"
    required: bool = True
    not_blank: bool = False
    aliases: tuple[str, ...] = ()

    def accepts(self, file_header: str) -> bool:
        wanted = {normalise_header(n) for n in (self.header, self.name, *self.aliases)}
        return normalise_header(file_header) in wanted


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column feeds which contract column."""
    positions: dict[str, int]          # contract column name -> 0-based file column
    extra: tuple[str, ...]             # file columns the contract does not know (tolerated, recorded)
    missing: tuple[str, ...]           # required contract columns the file lacks (fatal)
    duplicated: tuple[str, ...] = ()   # contract columns fed by more than one file column (fatal)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated


@dataclass(frozen=True)
class Contract:
    dataset: str                       # also the raw table's name: raw.<dataset>
    source: str
    table: str
    file_name: re.Pattern
    period_column: str | None
    agencies: dict[str, str]
    columns: tuple[ContractColumn, ...] = field(default_factory=tuple)
    # A cumulative publication of the same dataset (every month so far, republished whole): a newer one
    # supersedes the previous one of the same agency entirely (meta.ingest.cumulative_file_name).
    cumulative_file_name: re.Pattern | None = None
    # The worksheet of an XLSX extract that holds the rows (meta.ingest.sheet); default: the first sheet
    # whose first row matches the contract's header.
    sheet: str | None = None

    def column(self, name: str) -> ContractColumn:
        return next(c for c in self.columns if c.name == name)

    def match_header(self, file_headers: list[str]) -> HeaderMatch:
        positions: dict[str, int] = {}
        extra, duplicated = [], []
        for i, header in enumerate(file_headers):
            col = next((c for c in self.columns if c.accepts(header)), None)
            if col is None:
                extra.append(header)
            elif col.name in positions:
                duplicated.append(col.header)
            else:
                positions[col.name] = i
        missing = tuple(c.header for c in self.columns if c.required and c.name not in positions)
        return HeaderMatch(positions, tuple(extra), missing, tuple(duplicated))


def _column(table: str, raw: dict) -> ContractColumn:
    extract = (raw.get("meta") or {}).get("extract")
    if not extract:
        raise ContractError(f"column {table}.{raw.get('name')} has no meta.extract")
    ctype = extract.get("type", "text")
    if ctype not in COLUMN_TYPES:
        raise ContractError(f"column {table}.{raw['name']}: unknown type {ctype!r} (known: {', '.join(COLUMN_TYPES)})")
    return ContractColumn(
        name=raw["name"],
        header=extract["header"],
        type=ctype,
        required=bool(extract.get("required", True)),
        not_blank=bool(extract.get("not_blank", False)),
        aliases=tuple(extract.get("aliases", ())),
    )


def contracts_in(path: Path) -> list[Contract]:
    doc = yaml.safe_load(path.read_text()) or {}
    found = []
    for source in doc.get("sources", []):
        agencies = (source.get("meta") or {}).get("agencies", {})
        for table in source.get("tables", []):
            ingest = (table.get("meta") or {}).get("ingest")
            if not ingest:
                continue
            dataset = table.get("identifier", table["name"])
            try:
                pattern = re.compile(ingest["file_name"])
                cumulative = ingest.get("cumulative_file_name")
                cumulative = re.compile(cumulative) if cumulative else None
            except (KeyError, re.error) as exc:
                raise ContractError(f"{path}: {dataset}: bad meta.ingest.file_name: {exc}") from None
            found.append(Contract(
                dataset=dataset,
                source=source["name"],
                table=table["name"],
                file_name=pattern,
                period_column=ingest.get("period_column"),
                agencies=dict(agencies),
                columns=tuple(_column(dataset, c) for c in table.get("columns", [])),
                cumulative_file_name=cumulative,
                sheet=ingest.get("sheet"),
            ))
    return found


def load_contracts(models_dir: Path | None = None) -> list[Contract]:
    """Every dataset the ingest knows, from every source YAML under models/."""
    models_dir = models_dir or settings().project_dir / "models"
    contracts = [c for p in sorted(models_dir.rglob("*.yml")) for c in contracts_in(p)]
    names = [c.dataset for c in contracts]
    if len(names) != len(set(names)):
        raise ContractError(f"a dataset is declared twice: {sorted(names)}")
    return contracts
