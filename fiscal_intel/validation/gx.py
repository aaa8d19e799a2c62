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
from functools import cache
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

    # GX imports SQLAlchemy's ORM, which Dagster's event storage (SQLAlchemy core, in the run's
    # thread) then finds half-initialised in sys.modules and uses: "partially initialized module
    # 'sqlalchemy.orm.exc'" in a step. Imported here first, in the caller's thread (~0.25 s once
    # per process), the ORM is complete before GX's thread starts.
    import sqlalchemy.orm  # noqa: F401

    thread = threading.Thread(target=_import, name="gx-preload", daemon=True)
    thread.start()
    return thread


# One ephemeral context per process, built on first use: building it cost ~0.1 s per suite
# validated, paid on every staged table of every municipality of a department. What a suite
# needs on it (a pandas data source, one dataframe asset and batch definition per suite, the
# suite itself) is registered once too: adding and deleting them for every suite saved the
# context's configuration as YAML four times a suite, a sixth of GX's time per municipality
# (benchmarks/department_cost.md). Only the dataframe changes from one validation to the next.
# The lock keeps two threads from using the context at once.
_CONTEXT: tuple[Any, Any] | None = None
_CONTEXT_LOCK = threading.Lock()
_SOURCE = "fiscal_intel"
_REGISTERED: dict[str, tuple[str, Any, Any]] = {}  # suite name -> (its JSON, batch def, suite)


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = _new_context()
    return _CONTEXT


def _new_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    _read_configuration_once(gx)
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


# The GX version whose ``Expectation`` kwarg lookups _read_configuration_once replaces (pinned in
# pyproject.toml); any other version is left exactly as it is.
_KWARGS_PATCHED_FOR = "1.24.1"


def _read_configuration_once(gx: Any) -> bool:
    """Make GX 1.24.1's kwarg lookups build an expectation's configuration once per lookup.

    ``Expectation.configuration`` is a property that builds a new ``ExpectationConfiguration``
    from the expectation's pydantic fields (``.dict()``, then validation) on every access, and
    ``_get_domain_kwargs``, ``_get_success_kwargs``, ``_get_success_kwarg`` and
    ``_get_runtime_kwargs`` read it inside their loops, once per key: ~6,400 configurations for
    the 8 suites of a small municipality, about half of GX's CPU in a profile. The replacements
    below are GX's own code with ``self.configuration.kwargs`` read once at the top: nothing
    changes the expectation while they run, so they return the same values (the outcomes of
    every suite are compared in tests/test_gx_adapter.py and tests/test_work_floor.py).
    Returns whether GX was patched (only the pinned version is).
    """
    from great_expectations.expectations.expectation import (
        Expectation,
        InvalidExpectationKwargsError,
        logger,
        parse_result_format,
    )

    if gx.__version__ != _KWARGS_PATCHED_FOR:
        return False
    if getattr(Expectation, "_fiscal_intel_kwargs_once", False):
        return True

    def _success_kwarg(self, kwargs: dict, key: str, default: Any = None) -> Any:  # noqa: ANN001
        if key in kwargs:
            return kwargs[key]
        field = self.__fields__.get(key)
        if field is not None:
            return field.default if not field.required else default
        logger.warning(
            f'_get_success_kwarg called with key "{key}", '
            f"but it is not a known field of {type(self).__name__}"
        )
        return default

    def _domain_kwargs(self, kwargs: dict) -> dict:  # noqa: ANN001
        domain = {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}
        missing = set(self.domain_keys) - set(domain.keys())
        if missing:
            raise InvalidExpectationKwargsError(f"Missing domain kwargs: {list(missing)}")
        return domain

    def _success_kwargs(self, kwargs: dict) -> dict:  # noqa: ANN001
        domain = _domain_kwargs(self, kwargs)
        success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
        success.update(domain)
        return success

    def _get_success_kwarg(self, key: str, default: Any = None) -> Any:  # noqa: ANN001
        return _success_kwarg(self, self.configuration.kwargs, key, default)

    def _get_domain_kwargs(self) -> dict:  # noqa: ANN001
        return _domain_kwargs(self, self.configuration.kwargs)

    def _get_success_kwargs(self) -> dict:  # noqa: ANN001
        return _success_kwargs(self, self.configuration.kwargs)

    def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:  # noqa: ANN001
        runtime_configuration = runtime_configuration or {}
        kwargs = self.configuration.kwargs
        success_kwargs = _success_kwargs(self, kwargs)
        runtime_kwargs = {
            key: runtime_configuration.get(key, _success_kwarg(self, kwargs, key))
            for key in self.runtime_keys
        }
        runtime_kwargs.update(success_kwargs)
        runtime_kwargs["result_format"] = parse_result_format(runtime_kwargs["result_format"])
        return runtime_kwargs

    replacements = {
        "_get_success_kwarg": _get_success_kwarg,
        "_get_domain_kwargs": _get_domain_kwargs,
        "_get_success_kwargs": _get_success_kwargs,
        "_get_runtime_kwargs": _get_runtime_kwargs,
    }
    for name, replacement in replacements.items():
        GX_ORIGINALS[name] = getattr(Expectation, name)  # kept for the tests' comparison
        setattr(Expectation, name, replacement)
    Expectation._fiscal_intel_kwargs_once = True
    return True


GX_ORIGINALS: dict[str, Any] = {}


def _registered(suite_json: dict) -> tuple[Any, Any]:
    """The batch definition and suite of this suite on the process's context, registered on
    first use (and again when a suite of the same name comes with other expectations)."""
    gx, context = _context()
    spec = {k: v for k, v in suite_json.items() if k in ("name", "expectations", "meta")}
    name, text = spec["name"], json.dumps(spec, sort_keys=True, default=str)
    known = _REGISTERED.get(name)
    if known is not None and known[0] == text:
        return known[1], known[2]
    if not _REGISTERED:
        context.data_sources.add_pandas(_SOURCE)
    source = context.data_sources.get(_SOURCE)
    if known is None:
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
            "all"
        )
    else:  # same name, other expectations (tests plant their own): replace the suite only
        batch_definition = known[1]
        context.suites.delete(name)
    suite = context.suites.add(gx.ExpectationSuite(**spec))
    _REGISTERED[name] = (text, batch_definition, suite)
    return batch_definition, suite


def _tolerant(suite_json: dict) -> dict | None:
    """The suite's expectations that allow exceptions (``mostly`` below 1), as a suite: they
    can pass with unexpected rows, which only ``SUMMARY`` counts."""
    some = [e for e in suite_json["expectations"] if e.get("kwargs", {}).get("mostly", 1) != 1]
    if not some:
        return None
    return {**suite_json, "name": f"{suite_json['name']}__tolerant", "expectations": some}


def validate_frame(df: Any, suite_json: dict) -> SuiteOutcome:
    """Validate a pandas frame against a suite given as GX JSON.

    GX first only decides pass or fail (``BOOLEAN_ONLY``: about half the work of ``SUMMARY``,
    which also gathers unexpected values). When the suite passes, a row-by-row expectation that
    allows no exception found 0 unexpected rows, which is what ``SUMMARY`` would count; those
    that allow some (``mostly``) are validated again with ``SUMMARY`` for their counts. When it
    fails, the whole suite is validated again with ``SUMMARY`` for the counts and samples the
    check reports. The outcomes are those of one ``SUMMARY`` validation either way.
    """
    tolerant = _tolerant(suite_json)
    details: dict[int, Any] = {}
    with _CONTEXT_LOCK:
        batch_definition, suite = _registered(suite_json)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
        result = batch.validate(suite, result_format="BOOLEAN_ONLY")
        quick = bool(result.success)
        if not quick:
            result = batch.validate(suite, result_format="SUMMARY")
        elif tolerant is not None:
            _, some = _registered(tolerant)
            for r in batch.validate(some, result_format="SUMMARY").results:
                details[_position(suite_json, r.expectation_config)] = r.result
    outcomes = []
    for r in sorted(result.results, key=lambda r: _position(suite_json, r.expectation_config)):
        kind = r.expectation_config.type
        if quick:
            found = details.get(_position(suite_json, r.expectation_config))
            if found is None:
                found = {"unexpected_count": 0} if _counts_rows(kind) else {}
        else:
            found = r.result
        outcomes.append(
            ExpectationOutcome(
                expectation=kind,
                column=_columns_of(r.expectation_config.kwargs),
                success=bool(r.success),
                unexpected_count=found.get("unexpected_count"),
                sample=[plain_sample(v) for v in (found.get("partial_unexpected_list") or [])][:5],
            )
        )
    return SuiteOutcome(suite_json["name"], bool(result.success), len(df), outcomes)


@cache
def _counts_rows(expectation: str) -> bool:
    """Whether GX counts unexpected rows for this type (a row-by-row "map" expectation)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    kinds = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    return issubclass(get_expectation_impl(expectation), kinds)


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
