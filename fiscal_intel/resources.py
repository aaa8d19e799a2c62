"""Dagster resources: the warehouse connection and the settings every asset reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from fiscal_intel.locking import held_here, warehouse_lock
from fiscal_intel.settings import Settings, load_settings
from fiscal_intel.warehouse import connect_warehouse


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse, one writer at a time across processes.

    A CLI run holds the warehouse lock for its whole length; a run launched by the Dagster
    daemon (sensor, schedule, UI) takes it per connection, so the two never meet as two DuckDB
    writers: one waits for the other instead of failing on DuckDB's file lock. Readers never
    open this file: they open the copy each run publishes (``fiscal_intel.published``).
    """

    lock_timeout: float = 3600.0

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if held_here(self.database):
            with self._connection() as con:
                yield con
            return
        with warehouse_lock(self.database, timeout=self.lock_timeout), self._connection() as con:
            yield con

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # Unlike the parent's, closes the connection when the asset fails too: a connection left
        # open would pin its configuration on the file for the rest of the process.
        con = connect_warehouse(
            self.database, config={"custom_user_agent": "dagster", **self.connection_config}
        )
        try:
            yield con
        finally:
            con.close()


class FiscalSettings(dg.ConfigurableResource):
    """The run's settings as a resource (see ``fiscal_intel.settings``)."""

    landing: str
    as_of: str = ""
    municipality: str = "05615"
    filing_deadline_month: int = 4
    filing_deadline_day: int = 30
    statute_years_filed: int = 3
    statute_years_omiso: int = 5
    max_unknown_filer_share: float = 0.01
    seed: int = 20240601
    num_threads: int = 2
    boosting_rounds: int = 100
    explain_top: int = 1000
    backtest_months: int = 24
    audit_capacity: int = 100
    truth: str = ""
    min_cell_taxpayers: int = 5
    dominance_p_percent: float = 10.0
    secrecy_rounding_cop: int = 1_000_000
    leadership_dir: str = ""
    report_language: str = "es"
    mappings: str = ""
    continue_past_unreadable: bool = False
    inspector_hour_cost: float = 60_000.0
    hours_per_audit: float = 40.0
    hours_per_request: float = 3.0
    audits_per_year: int = 300
    requests_per_year: int = 2_000
    letter_cost: float = 8_000.0
    letters_per_campaign: int = 2_000
    prior_yield_requerimiento: float = 0.35
    prior_yield_emplazamiento: float = 0.30
    prior_yield_carta: float = 0.05
    max_quarantine_share: float = 0.20
    first_tax_year: int = 2010
    last_tax_year: int = 2035
    min_list_share: float = 0.5

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    def sql_params(self) -> dict[str, object]:
        """The parameters SQL files may use as ``$name``."""
        return {
            "as_of": self.as_of,
            "municipality": self.municipality,
            "deadline_month": self.filing_deadline_month,
            "deadline_day": self.filing_deadline_day,
            "statute_years_filed": self.statute_years_filed,
            "statute_years_omiso": self.statute_years_omiso,
            "max_unknown_filer_share": self.max_unknown_filer_share,
            "min_cell_taxpayers": self.min_cell_taxpayers,
            "dominance_p_percent": self.dominance_p_percent,
            "secrecy_rounding_cop": self.secrecy_rounding_cop,
            "audit_capacity": self.audit_capacity,
            "letter_cost": self.letter_cost,
            "request_cost": self.hours_per_request * self.inspector_hour_cost,
        }


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Resources for a run on ``settings`` (defaults: environment and TOML)."""
    s = settings or load_settings()
    Path(s.warehouse).parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": WarehouseResource(
            database=str(s.warehouse),
            lock_timeout=s.lock_timeout,
            connection_config={"memory_limit": s.duckdb_memory_limit},
        ),
        "settings": FiscalSettings(
            **{name: getattr(s, name) for name in FiscalSettings.model_fields}
        ),
    }
