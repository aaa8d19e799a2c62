"""One settings object: where the data is, whom we serve, and the knobs of the models.

``Settings`` is a pydantic-settings model: each field's type, default and meaning are written
once, here, and everything else is derived from them (the Dagster resource in
``fiscal_intel.resources``, the ``$name`` parameters of the SQL files, the tax-year partitions,
``docs/settings.md``). Values come from these sources, each overriding the one before:

1. the defaults below;
2. environment variables ``FISCAL_INTEL_<NAME>`` (``FISCAL_INTEL_NUM_THREADS=4``);
3. an optional TOML file: ``--config FILE``, else the file named by ``FISCAL_INTEL_CONFIG``,
   else ``fiscal_intel.toml`` in the working directory when there is one;
4. the command-line flags (the ``overrides`` of :func:`load_settings`).

An unknown key, a value of the wrong type, a date that is not a date, a value outside its range
and a named config file that does not exist all fail with :class:`SettingsError`, whose message
names the setting (or the file) and the value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "FISCAL_INTEL_"

# The least protection a municipality may configure: 3 taxpayers a cell (the usual threshold
# rule of statistical offices), the p % rule at 5 %, amounts rounded to at least a thousand
# pesos (the unit of the national ICA form).
SECRECY_FLOORS: dict[str, float] = {
    "min_cell_taxpayers": 3,
    "dominance_p_percent": 5.0,
    "secrecy_rounding_cop": 1_000,
}

# The TOML source of the settings being built (set by load_settings for one call).
_TOML: ContextVar[PydanticBaseSettingsSource | None] = ContextVar("fiscal_intel_toml", default=None)


class SettingsError(ValueError):
    """A setting that cannot be used: the message names the setting (or file) and the value."""


class Settings(BaseSettings):
    """The settings of one run (see the module docstring for where values come from)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        # `municipality = 5615` in a TOML file is checked as the text "5615", not refused
        # as "not text" before the check that says what a DANE code is.
        coerce_numbers_to_str=True,
    )

    landing: str = Field("data/landing", description="landing folder (one subfolder per source)")
    warehouse: str = Field(
        "data/warehouse.duckdb",
        description="the DuckDB warehouse file (any name: it is attached under a fixed catalog "
        "name by fiscal_intel/warehouse.py)",
    )
    warehouse_dir: str = Field(
        "",
        description="a department: the folder of one `<code>.duckdb` per municipality and "
        "`department.duckdb` (`run --warehouse-dir` overrides it; empty: `run` needs the flag, "
        "the department code location uses `warehouses/` beside the landing folder)",
    )
    as_of: str = Field(
        "",
        description="the date the run reasons from, YYYY-MM-DD (also 30/06/2025 or 20250630); "
        "empty: the latest dated event in the landing data, at most 31 days (or the data's own "
        "pace) past the data's horizon",
    )
    municipality: str = Field("05615", description="5-digit DANE code served (Rionegro)")
    filing_deadline_month: int = Field(
        4, description="month of the annual ICA return deadline for tax year Y, in year Y + 1"
    )
    filing_deadline_day: int = Field(
        30, description="day of the annual ICA return deadline for tax year Y, in year Y + 1"
    )
    statute_years_filed: int = Field(
        3, description="years a filed return stays open to review (ET art. 714)"
    )
    statute_years_omiso: int = Field(
        5, description="years a non-filer stays open to assessment (ET art. 717)"
    )
    max_unknown_filer_share: float = Field(
        0.01,
        description="share of returns whose NIT is in no registry before the cross-table "
        "check fails",
    )
    seed: int = Field(20240601, description="random seed of model training")
    num_threads: int = Field(2, description="threads of model training")
    boosting_rounds: int = Field(
        100, description="boosting rounds of the risk models (the learning rate is 15 / rounds)"
    )
    explain_top: int = Field(
        1000,
        description="cases per program whose reasons are computed (pred_contrib costs ~1.5 ms "
        "a row: reasons are written for the cases inspectors will see)",
    )
    backtest_months: int = Field(
        24,
        description="the backtest trains on audits closed this many months before the as-of "
        "date and tests on the ones opened after",
    )
    audit_capacity: int = Field(
        100, description="cases per program the burden mart counts as selected"
    )
    truth: str = Field(
        "",
        description="optional ground-truth CSV (nit, tax_year, program, true_gap) for "
        "marts.model_performance (`fiscal-intel evaluate --truth`)",
    )
    min_cell_taxpayers: int = Field(
        5,
        description="tax secrecy (ET art. 583): no leadership figure from fewer taxpayers "
        "(floor 3)",
    )
    dominance_p_percent: float = Field(
        10.0,
        description="tax secrecy: p % dominance rule on amount cells, hidden when what the "
        "other payers add is less than p % of the largest payer's share (floor 5)",
    )
    secrecy_rounding_cop: int = Field(
        1_000_000,
        description="tax secrecy: published amounts (export, report, revenue_monthly) are "
        "rounded to this many pesos (floor 1,000)",
    )
    leadership_dir: str = Field(
        "",
        description="where the run writes `report.html` and `leadership.duckdb` (empty: "
        "`leadership/` beside the warehouse)",
    )
    report_language: str = Field("es", description="language of the leadership report: es or en")
    lock_timeout: float = Field(
        3600.0,
        description="seconds a run waits for another run on the same warehouse before giving up",
    )
    first_tax_year: int = Field(
        2010,
        description="first tax year of the partitioned tables (returns, payments, "
        "withholdings); rows of earlier years are quarantined at load",
    )
    last_tax_year: int = Field(
        2035,
        description="last tax year of the partitioned tables; rows of later years are "
        "quarantined at load",
    )
    min_list_share: float = Field(
        0.5,
        description="an audit list that is empty, or holds fewer than this share of the last "
        "passing run's cases, fails the blocking check marts/audit_ranking:lists_not_collapsed "
        "(0 accepts the new size once)",
    )
    mappings: str = Field(
        "",
        description="folder of `<source>.toml` column mappings read before the shipped ones "
        "(empty: shipped only)",
    )
    continue_past_unreadable: bool = Field(
        False,
        description="an unreadable (or mostly quarantined) landing file fails its raw asset "
        "(false), or is recorded and the run builds every table from what was read and exits "
        "non-zero at the end (true)",
    )
    max_quarantine_share: float = Field(
        0.20,
        description="a file with more than this share of its rows quarantined stops the "
        "publication like an unreadable one (blocking check `raw/<source>:quarantine_share`)",
    )
    duckdb_memory_limit: str = Field(
        "4GB",
        description="DuckDB's memory for one query (beyond it, it spills to `<warehouse>.tmp/`); "
        "the run's peak RSS stays near twice this: models and frames live beside it",
    )
    duckdb_threads: int = Field(
        0,
        description="DuckDB's threads in a run (0: one per core); a department run with "
        "`--workers N` gives each municipality cores / N, so N workers do not run N times the "
        "cores' threads",
    )
    inspector_hour_cost: float = Field(60_000.0, description="COP per inspector hour")
    hours_per_audit: float = Field(40.0, description="inspector hours of one field audit")
    hours_per_request: float = Field(
        3.0, description="inspector hours of one request (requerimiento) or demand to file"
    )
    audits_per_year: int = Field(300, description="field audits the office can make in a year")
    requests_per_year: int = Field(
        2_000, description="requests and demands to file the office can send in a year"
    )
    letter_cost: float = Field(8_000.0, description="COP per letter (mailing)")
    letters_per_campaign: int = Field(
        2_000, description="letters of one campaign (default of `fiscal-intel campaign --size`)"
    )
    prior_yield_requerimiento: float = Field(
        0.35,
        description="share of an audit's expected money a request brings in, until the "
        "office's own campaigns have measured it",
    )
    prior_yield_emplazamiento: float = Field(
        0.30,
        description="share of an audit's expected money a demand to file brings in, until "
        "measured",
    )
    prior_yield_carta: float = Field(
        0.05,
        description="share of an audit's expected money a letter brings in, until measured",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first: CLI flags, then the TOML file, then the environment.
        toml = _TOML.get()
        return (init_settings, toml, env_settings) if toml else (init_settings, env_settings)

    @field_validator("continue_past_unreadable", mode="before")
    @classmethod
    def _yes_or_no(cls, value: Any) -> Any:
        # Spanish first: `si`/`sí` are yes; an empty variable is no.
        if isinstance(value, str) and value.strip().lower() in {"si", "sí", ""}:
            return value.strip().lower() != ""
        return value

    @field_validator("as_of")
    @classmethod
    def _as_of_date(cls, value: str) -> str:
        """The as-of date as ISO text: ``2025-06-30``, ``30/06/2025`` and ``20250630`` are the
        same date (the landing contract's forms); anything else is refused, never replaced."""
        if not value.strip():
            return ""
        from fiscal_intel.ingest.values import parse_date

        parsed = parse_date(value)
        if parsed is None:
            raise ValueError(
                f"{value!r} is not a date (write it YYYY-MM-DD, e.g. 2025-06-30)"
            )
        return parsed.isoformat()

    @field_validator("max_unknown_filer_share", "max_quarantine_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"{value!r} is not a share between 0 and 1")
        return value

    @field_validator(
        "num_threads", "boosting_rounds", "filing_deadline_month", "filing_deadline_day"
    )
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"{value!r} is below 1")
        return value

    @field_validator("duckdb_threads")
    @classmethod
    def _threads(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"{value!r} is below 0 (0: one thread per core)")
        return value

    @field_validator("filing_deadline_month")
    @classmethod
    def _month(cls, value: int) -> int:
        if not 1 <= value <= 12:
            raise ValueError(f"{value!r} is not a month")
        return value

    @field_validator("municipality")
    @classmethod
    def _dane_code(cls, value: str) -> str:
        if not (value.isascii() and value.isdigit() and len(value) == 5):
            raise ValueError(f"{value!r} is not a 5-digit DANE code")
        return value

    @field_validator("report_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("es", "en"):
            raise ValueError(f"{value!r} is not es or en")
        return value

    @field_validator(*SECRECY_FLOORS)
    @classmethod
    def _secrecy_floor(cls, value: float, info: Any) -> float:
        floor = SECRECY_FLOORS[info.field_name]
        if value < floor:
            raise ValueError(
                f"{value} ({ENV_PREFIX}{info.field_name.upper()}) is below its floor of "
                f"{floor}: tax secrecy (ET art. 583) does not allow it"
            )
        return value

    @model_validator(mode="after")
    def _tax_years_in_order(self) -> Settings:
        if self.last_tax_year < self.first_tax_year:
            raise ValueError(
                f"setting last_tax_year: {self.last_tax_year} is before first_tax_year "
                f"{self.first_tax_year}"
            )
        return self

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse)

    def replace(self, **changes: Any) -> Settings:
        """These settings with ``changes``, validated like any other source (the model is
        frozen; ``dataclasses.replace`` does not apply to it)."""
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    def sql_params(self) -> dict[str, object]:
        """The parameters SQL files may use: every setting as ``$<its name>``
        (``fiscal_intel.sqlfiles.run_sql`` passes each file only those it names)."""
        return self.model_dump()


# What a pydantic error type means to the person who wrote the value.
_KIND = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not a text value",
}


def _explain(exc: ValidationError) -> str:
    """One line per refused value, each naming the setting: ``setting NAME: VALUE is not ...``."""
    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(Settings.model_fields))
            lines.append(f"unknown setting {name} (known: {known})")
        elif error["type"] in _KIND:
            lines.append(f"setting {name}: {error['input']!r} {_KIND[error['type']]}")
        elif error["type"] == "value_error":
            reason = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
            lines.append(f"setting {name}: {reason}" if error["loc"] else reason)
        else:
            lines.append(f"setting {name}: {error['input']!r}: {error['msg']}")
    return "; ".join(lines)


def _toml_source(path: Path) -> TomlConfigSettingsSource:
    """The TOML file as a settings source; unreadable, invalid or with unknown keys, refused
    naming the file."""
    try:
        source = TomlConfigSettingsSource(Settings, toml_file=path)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path}: {exc}") from None
    unknown = sorted(set(source.toml_data) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(Settings.model_fields))})"
        )
    return source


@contextmanager
def _with_toml(source: PydanticBaseSettingsSource | None) -> Iterator[None]:
    token = _TOML.set(source)
    try:
        yield
    finally:
        _TOML.reset(token)


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """The settings from the defaults, the environment, the TOML file and ``overrides`` (the
    CLI flags; ``None`` means the flag was not given), each overriding the one before.

    ``config`` names the TOML file (else ``FISCAL_INTEL_CONFIG``, else ``fiscal_intel.toml`` in
    the working directory when it exists); a named file that does not exist is refused.
    """
    named = config or os.environ.get(f"{ENV_PREFIX}CONFIG")
    path = Path(named or "fiscal_intel.toml")
    if named and not path.is_file():
        raise SettingsError(f"config file {path} does not exist")
    toml = _toml_source(path) if path.is_file() else None
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        with _with_toml(toml):
            return Settings(**given)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def settings_reference() -> str:
    """``docs/settings.md``: every setting with its environment variable, default and meaning,
    from the model itself (``python -m fiscal_intel.settings > docs/settings.md``)."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated from fiscal_intel/settings.py by `python -m fiscal_intel.settings`;",
        "     tests/test_settings.py fails when it is out of date. -->",
        "",
        "Every setting has one name, used everywhere: the field of `Settings`, the key of the",
        "TOML file, the environment variable `FISCAL_INTEL_<NAME>`, the Dagster resource's",
        "config field and the `$name` parameter of the SQL files. Each source overrides the one",
        "before it:",
        "",
        "1. the defaults below;",
        "2. environment variables `FISCAL_INTEL_<NAME>`;",
        "3. an optional TOML file: `--config FILE`, else the file named by",
        "   `FISCAL_INTEL_CONFIG`, else `fiscal_intel.toml` in the working directory;",
        "4. command-line flags: `--landing`, `--warehouse`, `--as-of`,",
        "   `--continue-past-unreadable`, and `--lang` of `run` and `demo` (`report_language`).",
        "",
        "The tax-year partitions, the schedules and the sensors take the same settings: a run",
        "with `first_tax_year = 2005` in its `--config` file has partitions from 2005; the",
        "code location `dagster dev` and `dg` load (`fiscal_intel.definitions.defs`) is built",
        "from the environment and the TOML file of sources 2 and 3.",
        "",
        "An unknown key, a value of the wrong type, a date that is not a date, a value outside",
        "its range and a named config file that does not exist end the command with one line",
        "naming the setting (or the file) and exit code 2, e.g.",
        "`setting as_of: '31/02/2025' is not a date (write it YYYY-MM-DD, e.g. 2025-06-30)`.",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = (
            "(empty)" if default == ""
            else str(default).lower() if isinstance(default, bool)
            else f"{default:g}" if isinstance(default, float)
            else str(default)
        )
        lines.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{shown}` | {field.description} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_reference(), end="")
