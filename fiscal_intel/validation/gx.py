"""A small adapter from Great Expectations suites (JSON in ``expectations/``) to asset checks.

GX 1.x cannot validate a DuckDB table through its SQL datasource (results are fetched after the
connection closes), and ``dagster-ge`` needs GX < 1.0; so each staged table is read into pandas
and validated there. GX is imported lazily: it costs seconds to import and only checks need it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscal_intel.sqlfiles import expectations_root


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    sample: list[Any]


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]
    note: str = ""  # how the rows were validated, when it is not the obvious way

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: {len(self.outcomes)} expectations met on {self.rows} rows"
        parts = []
        for f in self.failures:
            what = f.expectation.removeprefix("expect_")
            where = f" on {f.column}" if f.column else ""
            count = (
                f" ({f.unexpected_count} rows, e.g. {f.sample[:3]})" if f.unexpected_count else ""
            )
            parts.append(f"{what}{where}{count}")
        note = f" ({self.note})" if self.note else ""
        return f"{self.suite}{note}: " + "; ".join(parts)


def suite_path(name: str) -> Path:
    return expectations_root() / f"{name}.json"


def load_suite_json(name: str) -> dict:
    return json.loads(suite_path(name).read_text(encoding="utf-8"))


def preload_in_background() -> threading.Thread:
    """Start importing GX in a thread: ~2 s of imports that then overlap the staging SQL (DuckDB
    releases the GIL) instead of stalling the first check. A check that starts first simply
    waits on Python's import lock."""

    def _import() -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations  # noqa: F401

    thread = threading.Thread(target=_import, name="gx-preload", daemon=True)
    thread.start()
    return thread


def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx, gx.get_context(mode="ephemeral", project_config=config)


def validate_frame(df: Any, suite_json: dict) -> SuiteOutcome:
    """Validate a pandas frame against a suite given as GX JSON."""
    gx, context = _context()
    source = context.data_sources.add_pandas("fiscal_intel")
    asset = source.add_dataframe_asset(suite_json["name"])
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": df}
    )
    spec = {k: v for k, v in suite_json.items() if k in ("name", "expectations", "meta")}
    suite = context.suites.add(gx.ExpectationSuite(**spec))
    result = batch.validate(suite, result_format="SUMMARY")
    outcomes = [
        ExpectationOutcome(
            expectation=r.expectation_config.type,
            column=_columns_of(r.expectation_config.kwargs),
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
            sample=[plain_sample(v) for v in (r.result.get("partial_unexpected_list") or [])][:5],
        )
        for r in sorted(result.results, key=lambda r: _position(suite_json, r.expectation_config))
    ]
    return SuiteOutcome(suite_json["name"], bool(result.success), len(df), outcomes)


def _columns_of(kwargs: dict) -> str | None:
    """The column(s) an expectation is about, as the check's message names them."""
    if kwargs.get("column"):
        return kwargs["column"]
    names = kwargs.get("column_list") or [
        kwargs[k] for k in ("column_A", "column_B") if kwargs.get(k)
    ]
    return ",".join(names) or None


def _position(suite_json: dict, config: Any) -> int:
    """Where an expectation sits in the suite file: GX returns results in its own order."""
    for i, e in enumerate(suite_json["expectations"]):
        if e["type"] == config.type and all(
            config.kwargs.get(k) == v for k, v in e.get("kwargs", {}).items()
        ):
            return i
    return len(suite_json["expectations"])


def plain_sample(value: Any) -> Any:
    """JSON-friendly sample values for check metadata."""
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)
