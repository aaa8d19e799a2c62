"""The work floor of a municipality (issue #19): what ``benchmarks/work_floor.py`` counts as our
work and as Dagster's, and the checks made cheaper to plan give the same answers."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from fiscal_intel.sqlfiles import install_macros, run_sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import work_floor  # noqa: E402


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_spans_count_each_kind_without_what_it_encloses() -> None:
    spans = work_floor.Spans()
    outer = spans.timed(lambda: (_burn(0.05), inner()), "outer")
    inner = spans.timed(lambda: _burn(0.1), "inner")
    outer()
    assert 0.1 <= spans.totals["inner"] < 0.2
    assert 0.05 <= spans.totals["outer"] < 0.1  # the inner 0.1 s is not the outer's


def test_step_bodies_are_timed_from_inside_and_dagster_apart() -> None:
    """A job of a plain asset and a generator asset: each body's CPU is its step's, the events
    Dagster stores are counted apart, and the timers come off again."""

    @dg.asset
    def plain() -> int:
        _burn(0.15)
        return 1

    @dg.asset(deps=[plain])
    def generating(context):  # noqa: ANN001, ANN201  (a string annotation: Dagster refuses it)
        _burn(0.1)
        context.log.info("halfway")  # an event stored from inside the body
        _burn(0.1)
        yield dg.MaterializeResult()

    spans = work_floor.Spans()
    undo = work_floor.install_timers(spans)
    try:
        cpu = time.process_time()
        result = dg.materialize([plain, generating])
        cpu = time.process_time() - cpu
    finally:
        work_floor.remove_timers(undo)
    assert result.success
    assert 0.15 <= spans.steps["plain"] < 0.35
    assert 0.2 <= spans.steps["generating"] < 0.45
    assert spans.totals[work_floor.DAGSTER_EVENTS] > 0
    row = work_floor.split("x", 0, cpu, spans, 0.0)
    # Our work: the bodies less the event stored inside one; the rest of the run is Dagster's.
    assert 0.35 <= row["work_seconds"] <= spans.steps["plain"] + spans.steps["generating"]
    assert abs(row["dagster_seconds"] + row["work_seconds"] - cpu) < 0.002
    assert row["dagster_seconds"] > 0
    from dagster._core.execution.plan import compute_generator

    assert compute_generator.invoke_compute_fn.__name__ == "invoke_compute_fn"  # put back


def test_glued_dv_check_counts_as_the_dv_macro(con: duckdb.DuckDBPyConnection) -> None:
    """The check reads the nine digits' remainder from a column instead of inlining
    ``fi_nit_dv``: the same matching NITs, on glued, plain and mixed sources."""
    install_macros(con)
    con.execute("create schema raw")
    rng = random.Random(19)
    for glued_share in (0.0, 0.3, 0.7, 1.0):
        nits = set()
        for _ in range(60):
            body = rng.randrange(100_000_000, 999_999_999)
            if rng.random() < glued_share:
                dv = con.execute("select fi_nit_dv(?::bigint)", [body]).fetchone()[0]
                nits.add(f"{body}{dv}")
            else:
                nits.add(f"{body}{rng.randrange(10)}")
        nits |= {"12345", "1234567890123"}  # not ten digits: never counted
        con.execute(
            "create or replace table raw.taxpayers as select unnest($n) as nit", {"n": sorted(nits)}
        )
        tens, matching = con.execute(
            "select count(distinct nit), count(distinct nit) filter "
            "(where right(nit, 1)::int = fi_nit_dv(left(nit, 9)::bigint)) "
            "from raw.taxpayers where length(nit) = 10"
        ).fetchone()
        passed, observed, detail = run_sql(
            con, "checks/nit_dv_suffix", source="taxpayers", raw_table="raw.taxpayers"
        ).fetchone()
        assert observed == matching / tens
        assert passed == (not (tens >= 10 and matching >= 0.5 * tens))
        assert f"{matching} of {tens} ten-digit NITs" in detail


def test_gx_kwarg_lookups_read_the_configuration_once_with_the_same_values() -> None:
    """The pinned GX's kwarg lookups, replaced (validation/gx.py, _read_configuration_once),
    give what GX's own give for every expectation of every shipped suite."""
    import great_expectations as gx

    from fiscal_intel.sqlfiles import expectations_root
    from fiscal_intel.validation import gx as adapter

    adapter._context()  # builds the context, which applies the replacement
    assert adapter._read_configuration_once(gx) is (gx.__version__ == adapter._KWARGS_PATCHED_FOR)
    if not adapter.GX_ORIGINALS:
        return  # another GX version: left as it is
    original = adapter.GX_ORIGINALS
    checked = 0
    for path in sorted(expectations_root().glob("*.json")):
        spec = adapter.load_suite_json(path.stem)
        suite = gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"])
        for e in suite.expectations:
            assert e._get_domain_kwargs() == original["_get_domain_kwargs"](e)
            assert e._get_success_kwargs() == original["_get_success_kwargs"](e)
            for runtime in (None, {"result_format": "SUMMARY"}, {"result_format": "BOOLEAN_ONLY"}):
                assert e._get_runtime_kwargs(runtime) == original["_get_runtime_kwargs"](e, runtime)
            for key in ("mostly", "column", "result_format"):
                assert e._get_success_kwarg(key) == original["_get_success_kwarg"](e, key)
            checked += 1
    assert checked > 50
