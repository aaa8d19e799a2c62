"""Column mappings: a tax office's own headers (and enum spellings) to the landing contract's.

Exports rarely use the contract's names: the chamber of commerce writes ``RAZON_SOCIAL`` and
``FECHA_MATRICULA``, a treasury system ``VIGENCIA`` and ``VALOR_PAGADO``. A mapping file per source
lists, for each canonical column, the headers that mean it; a second table lists the spellings of
enum values (``ACTIVO`` is ``active``). Defaults for common Colombian exports ship in
``fiscal_intel/mappings/<source>.toml``; a municipality adds or overrides entries with files of
the same name in the folder the ``mappings`` setting names, which are read first and win.

Headers and values are compared normalised (case, accents, spaces and punctuation ignored), so a
mapping lists ``razon_social`` once for ``Razón Social``, ``RAZON SOCIAL`` and ``razon-social``.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fiscal_intel.ingest.sources import SOURCES, Source

SHIPPED = Path(__file__).resolve().parent.parent / "mappings"


class MappingError(Exception):
    """A mapping file that cannot be used; the message names the file and the problem."""


def _fold(text: str) -> str:
    """Lower case without accents (``Año`` -> ``ano``, ``Ñ`` -> ``n``)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\ufeff", ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def normalise_header(name: str) -> str:
    """`` Razón Social `` -> ``razon_social``, ``Tax-Year`` -> ``tax_year``, ``Nº`` -> ``no``."""
    return re.sub(r"[^a-z0-9]+", "_", _fold(name)).strip("_")


def normalise_value(value: str) -> str:
    """The key an enum value is looked up by; mirrors ``fi_enum_key`` in sql/macros/parsing.sql."""
    return re.sub(r"[ \t\n\r\f\v\xa0_]+", " ", _fold(value.strip(" \t\n\r\f\v\xa0"))).strip()


@dataclass(frozen=True)
class Resolution:
    """How one header row maps onto a source's columns."""

    names: list[str]  # the column name to use for each position of the header
    missing: list[str]  # required canonical columns the header lacks
    renamed: dict[str, str]  # canonical column -> the header as written, where they differ
    problem: str = ""  # a header that cannot be used even though nothing is missing
    notes: tuple[str, ...] = ()  # headers that competed for one column: which won and why


@dataclass(frozen=True)
class ColumnMapping:
    source: Source
    aliases: dict[str, tuple[str, ...]]  # canonical column -> normalised headers, in preference
    values: dict[str, dict[str, str]]  # enum column -> normalised spelling -> canonical value
    files: tuple[str, ...] = field(default=())  # the mapping files read, for messages
    # (column, normalised header) -> the mapping file that listed it (absent: the column's name)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)  # money column -> pesos per unit
    dv_suffix: bool = False  # [nit] dv_suffix: the NIT's last digit is its DV
    department: str = ""  # [municipality] department: for names several departments share

    def _why(self, column: str, alias: str) -> str:
        origin = self.origins.get((column, alias))
        return f"mapped in {Path(origin).name}" if origin else "the column's own name"

    def applied(self) -> tuple[str, ...]:
        """What the mapping does to values, for the load log."""
        notes = [
            f"{column} x {factor:g} ([units] in the mapping)"
            for column, factor in sorted(self.units.items())
        ]
        if self.dv_suffix:
            notes.append("NIT read with its DV glued on ([nit] dv_suffix)")
        if self.department:
            notes.append(f"municipality names read in department {self.department}")
        return tuple(notes)
    # The source writes reversals as negative amounts (``reversals = true``): loaded, not
    # quarantined.
    reversals: bool = False

    def resolve(self, headers: Sequence[object]) -> Resolution:
        """Name each header position: the canonical column it maps to, else its own name."""
        raw = ["" if h is None else str(h) for h in headers]
        norm = [normalise_header(h) for h in raw]
        names: list[str | None] = [None] * len(norm)
        renamed: dict[str, str] = {}
        notes: list[str] = []
        for column in self.source.columns:
            chosen: tuple[str, int] | None = None
            for alias in self.aliases.get(column.name, (column.name,)):
                positions = [i for i, h in enumerate(norm) if h == alias and names[i] is None]
                if not positions:
                    continue
                if chosen is not None:
                    # A later alias present too: the earlier one wins (the override's headers
                    # come before the column's own name, which comes before the shipped ones).
                    won, at = chosen
                    notes.append(
                        f"{column.name} from '{raw[at].strip()}' ({self._why(column.name, won)}),"
                        f" not '{raw[positions[0]].strip()}' ({self._why(column.name, alias)})"
                    )
                    continue
                if len(positions) > 1:
                    shown = ", ".join(repr(raw[i].strip()) for i in positions)
                    return Resolution(
                        [], [], {}, f"repeated column {shown} (both would be {column.name})"
                    )
                names[positions[0]] = column.name
                chosen = (alias, positions[0])
                if alias != column.name:
                    renamed[column.name] = raw[positions[0]].strip()
        taken = {n for n in names if n}
        for i, name in enumerate(names):
            if name is None:
                # Columns the contract does not know are kept (they show in the raw text of a
                # quarantined row) under a name that cannot collide with a canonical one.
                base = "_x_" + (norm[i] or f"column_{i + 1}")
                candidate, k = base, 2
                while candidate in taken:
                    candidate, k = f"{base}_{k}", k + 1
                names[i] = candidate
                taken.add(candidate)
        missing = [c for c in self.source.required_columns if c not in taken]
        return Resolution([n for n in names if n], missing, renamed, notes=tuple(notes))

    def value_map(self, column: str) -> dict[str, str]:
        """Normalised spelling -> canonical value for an enum column, the choices included."""
        col = next(c for c in self.source.columns if c.name == column)
        out = {normalise_value(choice): choice for choice in col.choices}
        out.update(self.values.get(column, {}))
        return out


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"mapping file {path}: {exc}") from exc


def _aliases_of(path: Path, table: dict, source: Source) -> dict[str, list[str]]:
    known = {c.name for c in source.columns}
    out: dict[str, list[str]] = {}
    for column, headers in table.items():
        if column not in known:
            raise MappingError(
                f"mapping file {path}: '{column}' is not a column of {source.name} "
                f"(columns: {', '.join(sorted(known))})"
            )
        if isinstance(headers, str):
            headers = [headers]
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise MappingError(f"mapping file {path}: {column} must be a list of headers")
        out[column] = [normalise_header(h) for h in headers]
    return out


def _values_of(path: Path, table: dict, source: Source) -> dict[str, dict[str, str]]:
    enums = {c.name: c for c in source.columns if c.kind == "enum"}
    out: dict[str, dict[str, str]] = {}
    for column, spellings in table.items():
        if column not in enums:
            raise MappingError(
                f"mapping file {path}: values.{column}: only enum columns take value spellings "
                f"({', '.join(sorted(enums)) or 'none in ' + source.name})"
            )
        if not isinstance(spellings, dict):
            raise MappingError(f"mapping file {path}: values.{column} must be a table")
        for value, written in spellings.items():
            if value not in enums[column].choices:
                raise MappingError(
                    f"mapping file {path}: values.{column}.{value} is not one of "
                    f"{', '.join(enums[column].choices)}"
                )
            for w in [written] if isinstance(written, str) else written:
                out.setdefault(column, {}).setdefault(normalise_value(w), value)
    return out


def load_mapping(source: Source | str, override_dir: str | Path | None = None) -> ColumnMapping:
    """The mapping of one source: the override folder's file first, then the shipped one."""
    source = SOURCES[source] if isinstance(source, str) else source
    paths = []
    if override_dir:
        candidate = Path(override_dir) / f"{source.name}.toml"
        if candidate.is_file():
            paths.append(candidate)
    shipped = SHIPPED / f"{source.name}.toml"
    if shipped.is_file():
        paths.append(shipped)

    # A header the override maps comes before the column's own name, so `ciiu = ["CIIU4"]`
    # wins over a `CIIU` header it shadows; the shipped aliases come after the name.
    first: dict[str, list[str]] = {c.name: [] for c in source.columns}
    later: dict[str, list[str]] = {c.name: [c.name] for c in source.columns}
    origins: dict[tuple[str, str], str] = {}
    values: dict[str, dict[str, str]] = {}
    units: dict[str, float] = {}
    options: dict[str, object] = {}
    claimed: dict[str, str] = {c.name: c.name for c in source.columns}
    reversals: bool | None = None
    for path in paths:
        data = _read(path)
        unknown = set(data) - {"columns", "values", "units", "nit", "municipality", "reversals"}
        if "reversals" in data:
            if not isinstance(data["reversals"], bool):
                raise MappingError(f"mapping file {path}: reversals must be true or false")
            reversals = data["reversals"] if reversals is None else reversals
        if unknown:
            raise MappingError(
                f"mapping file {path}: unknown table(s) {', '.join(sorted(unknown))} "
                "(expected [columns], [values.<column>], [units], [nit] and [municipality])"
            )
        override = path != shipped
        for column, headers in _aliases_of(path, data.get("columns", {}), source).items():
            for header in headers:
                if override and header == column:
                    continue  # the column's own name is always read
                owner = claimed.setdefault(header, column)
                # An earlier file (the override) or a canonical name already owns this header:
                # the later claim is dropped, so a header never means two columns.
                if owner == column and header not in first[column] + later[column]:
                    (first if override else later)[column].append(header)
                    origins[(column, header)] = str(path)
        for column, spellings in _values_of(path, data.get("values", {}), source).items():
            for spelling, value in spellings.items():
                values.setdefault(column, {}).setdefault(spelling, value)
        for column, factor in _units_of(path, data.get("units", {}), source).items():
            units.setdefault(column, factor)
        for key, value in _options_of(path, data).items():
            options.setdefault(key, value)
    return ColumnMapping(
        source,
        {c: tuple(first[c] + later[c]) for c in first},
        values,
        tuple(str(p) for p in paths),
        origins=origins,
        units=units,
        dv_suffix=bool(options.get("dv_suffix", False)),
        department=str(options.get("department", "")),
        reversals=bool(reversals),
    )


def _units_of(path: Path, table: object, source: Source) -> dict[str, float]:
    """``[units]``: money column = pesos per unit written (1000: the export is in thousands)."""
    if not isinstance(table, dict):
        raise MappingError(f"mapping file {path}: [units] must be a table")
    money = {c.name for c in source.columns if c.kind == "money"}
    out: dict[str, float] = {}
    for column, factor in table.items():
        if column not in money:
            raise MappingError(
                f"mapping file {path}: units.{column}: only money columns take a unit "
                f"({', '.join(sorted(money)) or 'none in ' + source.name})"
            )
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise MappingError(
                f"mapping file {path}: units.{column} must be a positive number of pesos per "
                f"unit written (1000 for thousands), not {factor!r}"
            )
        out[column] = float(factor)
    return out


def _options_of(path: Path, data: dict) -> dict[str, object]:
    """``[nit] dv_suffix = true`` and ``[municipality] department = "ANTIOQUIA"``."""
    out: dict[str, object] = {}
    nit = data.get("nit", {})
    if not isinstance(nit, dict) or set(nit) - {"dv_suffix"}:
        raise MappingError(f"mapping file {path}: [nit] takes only dv_suffix = true or false")
    if "dv_suffix" in nit:
        if not isinstance(nit["dv_suffix"], bool):
            raise MappingError(f"mapping file {path}: nit.dv_suffix must be true or false")
        out["dv_suffix"] = nit["dv_suffix"]
    place = data.get("municipality", {})
    if not isinstance(place, dict) or set(place) - {"department"}:
        raise MappingError(
            f"mapping file {path}: [municipality] takes only department = \"<name or code>\""
        )
    if "department" in place:
        if not isinstance(place["department"], str) or not place["department"].strip():
            raise MappingError(f"mapping file {path}: municipality.department must be a name")
        out["department"] = place["department"].strip()
    return out
