"""Synthetic extracts in the agencies' published formats, calibrated to real London volumes.

Each module of this package that defines `synthesise(first_month, last_month, out_dir, *, seed, scale, progress)`
is one generator (police_uk, ...); it writes every file an agency would send for each month into
`out_dir/<YYYY-MM>/` (files that arrive late go into the folder of the month they arrive in), tells `progress`
of each file with its number of data rows, and returns their paths.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Protocol


class Progress(Protocol):
    """Told of each file as it is written, with the number of data rows in it."""
    def __call__(self, path: Path, rows: int) -> None: ...


class Generator(Protocol):
    def __call__(self, first_month: str, last_month: str, out_dir: Path, *, seed: int = 42, scale: float = 1.0,
                 progress: Progress | None = None) -> list[Path]: ...


def generators() -> dict[str, Generator]:
    """Every generator in this package, by module name, in name order."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "synthesise", None)):
            found[info.name] = module.synthesise
    return found


def synthesise(first_month: str, last_month: str, out_dir: Path, *, only: list[str] | None = None, seed: int = 42,
               scale: float = 1.0, progress: Progress | None = None) -> list[Path]:
    """Run the generators (all of them, or those named in `only`) over the months; every file written."""
    available = generators()
    unknown = sorted(set(only or ()) - set(available))
    if unknown:
        raise ValueError(f"unknown synthetic dataset(s) {', '.join(unknown)} (known: {', '.join(available)})")
    written = []
    for name, generate in available.items():
        if only and name not in only:
            continue
        written += generate(first_month, last_month, Path(out_dir), seed=seed, scale=scale, progress=progress)
    return written


def __getattr__(name: str):
    # imported lazily so `python -m safestats.synth.calibration` does not load the generator first
    if name == "synthesise_police_uk":
        from safestats.synth.police_uk import synthesise_police_uk
        return synthesise_police_uk
    raise AttributeError(name)


__all__ = ["generators", "synthesise", "synthesise_police_uk"]
