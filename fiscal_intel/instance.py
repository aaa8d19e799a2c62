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

DAGSTER_YAML = """\
# Created by fiscal-intel: runs of `fiscal-intel run` and of `dagster dev` / `dg dev` started with
# DAGSTER_HOME set to this folder are recorded here (SQLite storage in this folder).
telemetry:
  enabled: false
"""


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
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


@contextmanager
def persistent_instance(warehouse: str | Path) -> Iterator[dg.DagsterInstance]:
    """The instance in :func:`dagster_home` for ``warehouse``, created if missing."""
    home = ensure_dagster_home(dagster_home(warehouse))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance
