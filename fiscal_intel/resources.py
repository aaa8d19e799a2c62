"""Dagster resources: the warehouse connection and the settings every asset reads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from fiscal_intel.settings import Settings, load_settings


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
    boosting_rounds: int = 300
    explain_top: int = 1000

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
        }


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Resources for a run on ``settings`` (defaults: environment and TOML)."""
    s = settings or load_settings()
    Path(s.warehouse).parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(s.warehouse)),
        "settings": FiscalSettings(
            **{name: getattr(s, name) for name in FiscalSettings.model_fields}
        ),
    }
