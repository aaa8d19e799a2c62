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
    # Tax secrecy (ET art. 583): leadership marts never show a cell built from fewer taxpayers.
    min_cell_taxpayers: int = 5
    # Where the leadership report and shareable DuckDB go (empty: `leadership/` beside the
    # warehouse) and the report's language (`es` or `en`).
    leadership_dir: str = ""
    report_language: str = "es"
    # Seconds a run waits for another run on the same warehouse before giving up.
    lock_timeout: float = 3600.0
    # Tax years the partitioned tables (returns, payments, withholdings) may hold.
    first_tax_year: int = 2010
    last_tax_year: int = 2035
    # Folder of <source>.toml column mappings read before the shipped ones (empty: shipped only).
    mappings: str = ""
    # An unreadable landing file fails its raw asset (false), or is recorded and the run goes on
    # to build every table from what was read, exiting non-zero at the end (true).
    continue_past_unreadable: bool = False
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

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse)


def _coerce(value: Any, like: Any) -> Any:
    if isinstance(like, bool):
        return str(value).lower() in {"1", "true", "yes"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return str(value)


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, the TOML file, the environment and ``overrides``."""
    base = Settings()
    values: dict[str, Any] = {}
    path = Path(config or os.environ.get(f"{ENV_PREFIX}CONFIG", "fiscal_intel.toml"))
    if path.is_file():
        with path.open("rb") as fh:
            values.update(tomllib.load(fh))
    for f in fields(Settings):
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        if env is not None and f.name != "extra":
            values[f.name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)} - {"extra"}
    unknown = {k: v for k, v in values.items() if k not in known}
    typed = {k: _coerce(v, getattr(base, k)) for k, v in values.items() if k in known}
    return replace(base, **typed, extra=unknown)
