"""Municipalities as registries write them, resolved to DANE's DIVIPOLA code.

Chambers of commerce write ``05615``, ``5615``, ``MEDELLIN``, ``BOGOTA-D.C.-BOGOTA D.C.``,
``Rionegro - Antioquia`` or ``RIONEGRO (ANT)``. A code must exist in DIVIPOLA (shipped in
``fiscal_intel/reference/divipola_municipalities.csv``); a name resolves when exactly one
municipality carries it, in the department the value, a department column or the source's
mapping gives. ``RIONEGRO`` alone is 05615 (Antioquia) or 68615 (Santander): such a value is not
guessed, and the reason names the candidates.

The loader resolves each distinct (value, department) of a file here, once, and both readers
type rows through the same lookup, so they cannot disagree.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DIVIPOLA = Path(__file__).resolve().parent.parent / "reference" / "divipola_municipalities.csv"


def place_key(text: str | None) -> str:
    """Upper case, no accents, punctuation as single spaces; mirrors ``fi_place_key`` in SQL."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return re.sub(r"[^A-Z0-9]+", " ", plain).strip()


@dataclass(frozen=True)
class Municipality:
    code: str
    department: str
    name: str


@dataclass(frozen=True)
class Divipola:
    by_code: dict[str, Municipality]
    by_name: dict[str, tuple[str, ...]]  # name key -> codes
    departments: dict[str, str]  # department key (and aliases) -> department code

    def department_codes(self, text: str) -> set[str]:
        """Department codes ``text`` can mean: a full name, an alias, or an abbreviation whose
        words start the department's words (``ANT``, ``N DE SANTANDER``, ``VALLE``)."""
        key = place_key(text)
        if not key:
            return set()
        if key in self.departments:
            return {self.departments[key]}
        if key.isdigit() and len(key) <= 2:
            code = key.zfill(2)
            return {code} if code in set(self.departments.values()) else set()
        words = key.split()
        found = set()
        for name, code in self.departments.items():
            parts = name.split()
            if len(words) <= len(parts) and all(
                p.startswith(w) for w, p in zip(words, parts, strict=False)
            ):
                found.add(code)
        return found


def _name_keys(name: str) -> set[str]:
    key = place_key(name)
    keys = {key}
    for suffix in (" ANM", " D C", " DC"):
        if key.endswith(suffix):
            keys.add(key.removesuffix(suffix).strip())
    return keys


_CITY_ALIASES = {
    "CARTAGENA": "CARTAGENA DE INDIAS",
    "SANTIAGO DE CALI": "CALI",
    "SANTAFE DE BOGOTA": "BOGOTA D C",
    "SANTA FE DE BOGOTA": "BOGOTA D C",
    "BOGOTA DISTRITO CAPITAL": "BOGOTA D C",
}


@lru_cache(maxsize=1)
def divipola() -> Divipola:
    by_code: dict[str, Municipality] = {}
    by_name: dict[str, list[str]] = {}
    departments: dict[str, str] = {}
    with DIVIPOLA.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            m = Municipality(row["dane_code"], row["department"], row["municipality"])
            by_code[m.code] = m
            for key in _name_keys(m.name):
                by_name.setdefault(key, []).append(m.code)
            for key in _name_keys(m.department):
                departments.setdefault(key, row["department_code"])
    # Names cities go by in exports that DIVIPOLA spells otherwise.
    for alias, official in _CITY_ALIASES.items():
        for code in by_name.get(official, []):
            if code not in by_name.setdefault(alias, []):
                by_name[alias].append(code)
    # Names the department goes by in exports.
    departments.setdefault("SAN ANDRES", "88")
    departments.setdefault("SAN ANDRES Y PROVIDENCIA", "88")
    departments.setdefault("BOGOTA", "11")
    return Divipola(by_code, {k: tuple(sorted(v)) for k, v in by_name.items()}, departments)


_CODE = re.compile(r"\d{1,5}(?:\.0+)?", re.ASCII)


def _candidates(key: str, table: Divipola) -> set[str]:
    """Codes the words of ``key`` can name: a municipality name alone, or a municipality and
    its department in either order (``RIONEGRO ANTIOQUIA``, ``ANTIOQUIA RIONEGRO``)."""
    if key in table.by_name:
        return set(table.by_name[key])
    words = key.split()
    found: set[str] = set()
    for i in range(1, len(words)):
        for name, dept in ((words[:i], words[i:]), (words[i:], words[:i])):
            codes = table.by_name.get(" ".join(name))
            if not codes:
                continue
            departments = table.department_codes(" ".join(dept))
            found.update(c for c in codes if c[:2] in departments)
    return found


def _shown(codes: set[str], table: Divipola) -> str:
    return ", ".join(f"{c} {table.by_code[c].department}" for c in sorted(codes))


def resolve_municipality(
    text: str | None, department: str | None = None
) -> tuple[str | None, str | None]:
    """(DANE code, None) for a value that names one municipality, else (None, why not).

    ``department``: a department column's value, or the source's default department, used
    only when the value itself does not say which municipality it is.
    """
    table = divipola()
    value = (text or "").strip(" \t\n\r\f\v\xa0")
    if not value:
        return None, None
    if _CODE.fullmatch(value):
        code = value.split(".")[0].zfill(5)
        if code in table.by_code:
            return code, None
        return None, f"'{value}' is not a DIVIPOLA municipality code"
    key = place_key(value)
    codes = _candidates(key, table)
    if len(codes) > 1 and department:
        wanted = table.department_codes(department)
        narrowed = {c for c in codes if c[:2] in wanted}
        if narrowed:
            codes = narrowed
    if len(codes) == 1:
        return codes.pop(), None
    if not codes:
        return None, f"'{value}' is not a DIVIPOLA municipality code or name"
    hint = f" in department '{department}'" if department else ""
    return None, (
        f"'{value}'{hint} names {len(codes)} municipalities ({_shown(codes, table)}): give the "
        "department in the value, in a department column or as [municipality] department in "
        "the source's mapping"
    )
