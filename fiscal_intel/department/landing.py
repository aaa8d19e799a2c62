"""Which municipalities a department landing folder holds (pure: no Dagster, no DuckDB)."""

from __future__ import annotations

import re
from pathlib import Path

DANE_CODE = re.compile(r"^\d{5}$")


def municipality_folders(landing: Path) -> dict[str, Path]:
    """The landing's subfolders named like a DANE municipality code, by code, sorted."""
    landing = Path(landing)
    if not landing.is_dir():
        return {}
    return {p.name: p for p in sorted(landing.iterdir()) if p.is_dir() and DANE_CODE.match(p.name)}


def is_department_landing(landing: Path) -> bool:
    """True when the landing holds at least one municipality subfolder (``landing/05615/``)."""
    return bool(municipality_folders(landing))


def municipality_name(code: str) -> str:
    """``Rionegro (Antioquia)`` for ``05615``; the code itself when DIVIPOLA does not know it."""
    from fiscal_intel.ingest.places import divipola

    found = divipola().by_code.get(code)
    return f"{found.name} ({found.department})" if found else code


def unknown_codes(codes: list[str]) -> list[str]:
    """The codes that are not a municipality in DIVIPOLA."""
    from fiscal_intel.ingest.places import divipola

    known = divipola().by_code
    return [c for c in codes if c not in known]


def landing_size(folder: Path) -> int:
    """Bytes of landing data under ``folder``: the largest municipality is started first."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
