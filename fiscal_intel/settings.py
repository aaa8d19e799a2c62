"""One settings object: where the data is, whom we serve, and the knobs of the models.

Values come from, in order of precedence: explicit arguments (the CLI flags), environment
variables ``FISCAL_INTEL_*``, an optional TOML file (``FISCAL_INTEL_CONFIG`` or
``fiscal_intel.toml`` in the working directory), then the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "FISCAL_INTEL_"

# The least protection a municipality may configure: 3 taxpayers a cell (the usual threshold
# rule of statistical offices), the p % rule at 5 %, amounts rounded to at least a thousand
# pesos (the unit of the national ICA form).
SECRECY_FLOORS: dict[str, float] = {
    "min_cell_taxpayers": 3,
    "dominance_p_percent": 5.0,
    "secrecy_rounding_cop": 1_000,
}


@dataclass(frozen=True)
class Settings:
    landing: str = "data/landing"
    warehouse: str = "data/warehouse.duckdb"
    # Empty: the as-of date is the latest dated event found in the landing data.
    as_of: str = ""
    municipality: str = "05615"
    # Annual ICA return deadline for tax year Y, as month and day of year Y + 1.
    filing_deadline_month: int = 4
    filing_deadline_day: int = 30
    # Years a filed return stays open to review (ET art. 714) and a non-filer to assessment (717).
    statute_years_filed: int = 3
    statute_years_omiso: int = 5
    # Share of returns whose NIT is in no registry before the cross-table check fails.
    max_unknown_filer_share: float = 0.01
    seed: int = 20240601
    num_threads: int = 2
    boosting_rounds: int = 100
    # pred_contrib costs ~1.5 ms a row: reasons are written for the cases inspectors will see.
    explain_top: int = 1000
    # Audit targeting evaluation: the backtest trains on audits closed this many months before
    # the as-of date and tests on the ones opened after; the burden mart counts the top
    # audit_capacity cases per program as selected; truth is an optional ground-truth CSV
    # (nit, tax_year, program, true_gap) for marts.model_performance (`fiscal-intel evaluate`).
    backtest_months: int = 24
    audit_capacity: int = 100
    truth: str = ""
    # Tax secrecy (ET art. 583): leadership marts never show a cell built from fewer taxpayers,
    # nor an amount cell dominated under the p % rule (what the other payers add is less than
    # p % of the largest payer's share), and round published amounts to this many pesos.
    # Values below the floors in SECRECY_FLOORS are refused (README, "Tax secrecy").
    min_cell_taxpayers: int = 5
    dominance_p_percent: float = 10.0
    secrecy_rounding_cop: int = 1_000_000
    # Where the leadership report and shareable DuckDB go (empty: `leadership/` beside the
    # warehouse) and the report's language (`es` or `en`).
    leadership_dir: str = ""
    report_language: str = "es"
    # Seconds a run waits for another run on the same warehouse before giving up.
    lock_timeout: float = 3600.0
    # Tax years the partitioned tables (returns, payments, withholdings) may hold.
    first_tax_year: int = 2010
    last_tax_year: int = 2035
    # A run whose audit list for a program is empty, or holds fewer than this share of the
    # previous run's cases, fails the blocking check marts/audit_ranking:lists_not_collapsed
    # (0 accepts the new size once, e.g. after a large audit campaign closed many cases).
    min_list_share: float = 0.5
    # Folder of <source>.toml column mappings read before the shipped ones (empty: shipped only).
    mappings: str = ""
    # An unreadable landing file fails its raw asset (false), or is recorded and the run goes on
    # to build every table from what was read, exiting non-zero at the end (true).
    continue_past_unreadable: bool = False
    # A file with more than this share of its rows quarantined stops the publication like an
    # unreadable one (blocking check raw/<source>:quarantine_share; continue_past_unreadable too).
    max_quarantine_share: float = 0.20
    # DuckDB's memory for one query (beyond it, it spills to <warehouse>.tmp/); the models and
    # polars frames live beside it in the same process, so the whole run stays near twice this.
    duckdb_memory_limit: str = "4GB"
    # Actions (README "Actions and campaigns"): what the office can do in a year and what each
    # action costs. An audit and a request cost inspector hours; a letter costs its mailing.
    inspector_hour_cost: float = 60_000.0
    hours_per_audit: float = 40.0
    hours_per_request: float = 3.0
    audits_per_year: int = 300
    requests_per_year: int = 2_000
    letter_cost: float = 8_000.0
    letters_per_campaign: int = 2_000
    # Share of an audit's expected money each cheaper action brings in, until the office's own
    # campaigns have measured it (priors, cited in the README).
    prior_yield_requerimiento: float = 0.35
    prior_yield_emplazamiento: float = 0.30
    prior_yield_carta: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, floor in SECRECY_FLOORS.items():
            value = getattr(self, name)
            if value < floor:
                raise ValueError(
                    f"setting {name} ({ENV_PREFIX}{name.upper()}) = {value} is below its floor "
                    f"of {floor}: tax secrecy (ET art. 583) does not allow it"
                )

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse)


class SettingsError(ValueError):
    """A setting that cannot be used: the message names the setting (or file) and the value."""


_TRUE, _FALSE = {"1", "true", "yes", "si", "sí"}, {"0", "false", "no", ""}


def _coerce(name: str, value: Any, like: Any) -> Any:
    text = str(value).strip()
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise SettingsError(f"setting {name}: {value!r} is not true or false")
    try:
        if isinstance(like, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(like, float):
            return float(value)
    except (TypeError, ValueError):
        kind = "a whole number" if isinstance(like, int) else "a number"
        raise SettingsError(f"setting {name}: {value!r} is not {kind}") from None
    if not isinstance(value, str | int | float):
        raise SettingsError(f"setting {name}: {value!r} is not a text value")
    return str(value)


def _as_of(value: str) -> str:
    """The as-of date as ISO text: ``2025-06-30``, ``30/06/2025`` and ``20250630`` are the same
    date (the landing contract's forms); anything else is refused, never replaced."""
    if not value.strip():
        return ""
    from fiscal_intel.ingest.values import parse_date

    parsed = parse_date(value)
    if parsed is None:
        raise SettingsError(
            f"setting as_of: {value!r} is not a date (write it YYYY-MM-DD, e.g. 2025-06-30)"
        )
    return parsed.isoformat()


def _check(settings: Settings) -> Settings:
    """Values of the right type that still cannot be used, named with the setting."""
    for name in ("max_unknown_filer_share", "max_quarantine_share"):
        value = getattr(settings, name)
        if not 0 <= value <= 1:
            raise SettingsError(f"setting {name}: {value!r} is not a share between 0 and 1")
    for name in ("num_threads", "boosting_rounds", "filing_deadline_month", "filing_deadline_day"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name}: {getattr(settings, name)!r} is below 1")
    if not 1 <= settings.filing_deadline_month <= 12:
        raise SettingsError(
            f"setting filing_deadline_month: {settings.filing_deadline_month!r} is not a month"
        )
    if not (settings.municipality.isascii() and settings.municipality.isdigit()) or len(
        settings.municipality
    ) != 5:
        raise SettingsError(
            f"setting municipality: {settings.municipality!r} is not a 5-digit DANE code"
        )
    if settings.report_language not in ("es", "en"):
        raise SettingsError(
            f"setting report_language: {settings.report_language!r} is not es or en"
        )
    return replace(settings, as_of=_as_of(settings.as_of))


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file, the environment and ``overrides``."""
    base = Settings()
    values: dict[str, Any] = {}
    named = config or os.environ.get(f"{ENV_PREFIX}CONFIG")
    path = Path(named or "fiscal_intel.toml")
    known = {f.name for f in fields(Settings)} - {"extra"}
    if named and not path.is_file():
        raise SettingsError(f"config file {path} does not exist")
    if path.is_file():
        try:
            with path.open("rb") as fh:
                from_file = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
        unknown_keys = sorted(set(from_file) - known)
        if unknown_keys:
            raise SettingsError(
                f"config file {path}: unknown setting(s) {', '.join(unknown_keys)} "
                f"(known: {', '.join(sorted(known))})"
            )
        values.update(from_file)
    for f in fields(Settings):
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        if env is not None and f.name != "extra":
            values[f.name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = {k: v for k, v in values.items() if k not in known}
    typed = {k: _coerce(k, v, getattr(base, k)) for k, v in values.items() if k in known}
    return _check(replace(base, **typed, extra=unknown))
