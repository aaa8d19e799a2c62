"""The Dagster instance runs are recorded in: one folder that ``fiscal-intel run`` and
``dagster dev`` / ``dg dev`` share, so the UI shows the history of command-line runs too.

The folder is ``$DAGSTER_HOME`` when set (Dagster's own variable), else ``dagster_home/`` in
the data folder (beside the warehouse: ``data/dagster_home`` by default). A missing folder is
created with a ``dagster.yaml``; an existing ``dagster.yaml`` is never rewritten, so a
deployment's own storage settings (Postgres, retention) are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import filelock
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

DAGSTER_YAML = """\
# Created by fiscal-intel: runs of `fiscal-intel run` and of `dagster dev` / `dg dev` started with
# DAGSTER_HOME set to this folder are recorded here (SQLite storage in this folder).
telemetry:
  enabled: false
# Dagster's SQLite event log with one connection per file and WAL + synchronous=NORMAL instead of
# a new connection and a full fsync per event (fiscal_intel.instance.WalSqliteEventLogStorage).
event_log_storage:
  module: fiscal_intel.instance
  class: WalSqliteEventLogStorage
  config:
    base_dir: "{runs}"
"""


class WalSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (same files, same schema, read by the stock class too), with an
    engine kept per file and WAL with ``synchronous=NORMAL``.

    The stock class opens a new connection and commits with a full fsync for every event; a
    command-line run stores ~1,300 events, which made a demo run ~40 % slower than with the
    ephemeral instance. With WAL and NORMAL a crash of the process loses nothing committed; a
    power cut can lose the last events of the run history (never the warehouse's data).
    """

    def __init__(self, base_dir: str, inst_data: object | None = None) -> None:
        self._engines: dict[str, Engine] = {}  # before super(): it opens the index file
        super().__init__(base_dir, inst_data=inst_data)  # type: ignore[arg-type]

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: object | None, config_value: dict
    ) -> WalSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": 15}
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
                dbapi_connection.execute("pragma journal_mode=wal")
                dbapi_connection.execute("pragma synchronous=normal")

            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index file has ``table_name``, a table once seen remembered.

        The stock method opens a new engine and reflects the file at each call, and Dagster
        calls it for every asset event (``asset_event_tags``) and check event
        (``asset_check_executions``): ~10 % of Dagster's CPU in a run (py-spy,
        benchmarks/department_cost.md). Tables are only ever added (migrations), so a table
        found stays; one not found is looked up again next time."""
        known = self.__dict__.setdefault("_known_tables", set())
        if table_name not in known and super().has_table(table_name):
            known.add(table_name)
        return table_name in known

    def dispose(self) -> None:
        super().dispose()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def dagster_home(warehouse: str | Path) -> Path:
    """``$DAGSTER_HOME``, else ``dagster_home`` beside the warehouse file."""
    configured = os.environ.get("DAGSTER_HOME", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(warehouse).expanduser().resolve().parent / "dagster_home"


def ensure_dagster_home(home: Path) -> Path:
    """Create ``home`` and its ``dagster.yaml`` when missing; returns ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        runs = (home / "history" / "runs").as_posix().replace('"', '\\"')
        config.write_text(DAGSTER_YAML.format(runs=runs), encoding="utf-8")
    return home


@contextmanager
def persistent_instance(warehouse: str | Path) -> Iterator[dg.DagsterInstance]:
    """The instance in :func:`dagster_home` for ``warehouse``, created if missing.

    Opening an instance creates its SQLite schemas and stamps their Alembic version when the
    folder is new. Two processes doing that at once (a department's municipalities share one
    folder) leave two version rows, and every later open fails with "Version table
    'alembic_version' has more than one head present": the opening is serialized by a lock in
    the folder. Runs themselves share the storage as Dagster allows.
    """
    home = ensure_dagster_home(dagster_home(warehouse))
    lock = filelock.FileLock(str(home / ".open.lock"), thread_local=False)
    with lock:
        instance = dg.DagsterInstance.from_config(str(home))
    with instance:
        yield instance
