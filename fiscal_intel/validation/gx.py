"""A small adapter from Great Expectations suites (JSON in ``expectations/``) to asset checks.

GX 1.x cannot validate a DuckDB table through its SQL datasource (results are fetched after the
connection closes), and ``dagster-ge`` needs GX < 1.0; so each staged table is read into pandas
and validated there. GX is imported lazily: it costs seconds to import and only checks need it.
"""

from __future__ import annotations

import json
import os
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
        return f"{self.suite}: " + "; ".join(parts)


def suite_path(name: str) -> Path:
    return expectations_root() / f"{name}.json"


def load_suite_json(name: str) -> dict:
    return json.loads(suite_path(name).read_text(encoding="utf-8"))


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
            column=r.expectation_config.kwargs.get("column")
            or ",".join(r.expectation_config.kwargs.get("column_list", []))
            or None,
            success=bool(r.success),
            unexpected_count=r.result.get("unexpected_count"),
            sample=[_plain(v) for v in (r.result.get("partial_unexpected_list") or [])][:5],
        )
        for r in result.results
    ]
    return SuiteOutcome(suite_json["name"], bool(result.success), len(df), outcomes)


def _plain(value: Any) -> Any:
    """JSON-friendly sample values for check metadata."""
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return str(value)
