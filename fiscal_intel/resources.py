"""Dagster resources: the warehouse connection and the settings every asset reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, create_model

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
            with self.unlocked_connection() as con:
                yield con
            return
        with (
            warehouse_lock(self.database, timeout=self.lock_timeout),
            self.unlocked_connection() as con,
        ):
            yield con

    @contextmanager
    def unlocked_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # A connection with the assets' settings, without taking the warehouse lock (the caller
        # holds it). Unlike the parent's, closed when the asset fails too: a connection left open
        # would pin its configuration on the file for the rest of the process.
        con = connect_warehouse(
            self.database, config={"custom_user_agent": "dagster", **self.connection_config}
        )
        try:
            yield con
        finally:
            con.close()


class _SettingsResource(dg.ConfigurableResource):
    """What the settings resource adds to the settings' own fields (generated below)."""

    @property
    def settings(self) -> Settings:
        """The settings this resource carries, validated as every source is."""
        return Settings.model_validate(
            {name: getattr(self, name) for name in Settings.model_fields}
        )

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)  # type: ignore[attr-defined]

    def sql_params(self) -> dict[str, object]:
        """The parameters SQL files may use: every setting as ``$<its name>``."""
        return self.settings.sql_params()


# The run's settings as a resource: one config field per setting, with the type, default and
# description of ``Settings`` (so the Dagster UI and a run config show and take the same names),
# generated from the model rather than written twice.
FiscalSettings = create_model(
    "FiscalSettings",
    __base__=_SettingsResource,
    __module__=__name__,
    __doc__="The run's settings as a resource (see ``fiscal_intel.settings``).",
    **{
        name: (field.annotation, Field(field.default, description=field.description))
        for name, field in Settings.model_fields.items()
    },
)


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Resources for a run on ``settings`` (defaults: environment and TOML)."""
    s = settings or load_settings()
    Path(s.warehouse).parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": WarehouseResource(
            database=str(s.warehouse),
            lock_timeout=s.lock_timeout,
            connection_config={
                "memory_limit": s.duckdb_memory_limit,
                # 0: DuckDB's default, one thread per core (a department worker gets fewer).
                **({"threads": s.duckdb_threads} if s.duckdb_threads else {}),
            },
        ),
        "settings": FiscalSettings(**s.model_dump()),
    }
