"""Checks that read only their asset run in its step (fiscal_intel.assets.checks.with_checks):
what the asset reads still comes first, and a run may select the asset without its checks or
a check without its asset. The blocking behaviour: tests/test_one_run.py (a failed GX suite
stops the run before features) and tests/test_ops.py."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb

from fiscal_intel.assets.checks import asset_checks, checks, in_asset_step
from fiscal_intel.definitions import all_assets, defs
from fiscal_intel.resources import build_resources
from fiscal_intel.settings import load_settings

PAYMENTS = dg.AssetKey(["raw", "payments"])
ACCOUNTING = dg.AssetCheckKey(PAYMENTS, "load_accounting")


def test_each_check_in_one_step_under_its_asset() -> None:
    graph = defs.resolve_asset_graph()
    in_step = {c.key for c in checks if in_asset_step(c)}
    own = {k for d in asset_checks for k in d.check_keys}
    assert in_step and own and not in_step & own
    assert in_step | own == set(graph.asset_check_keys)
    by_asset = {
        k: d for d in all_assets if isinstance(d, dg.AssetsDefinition) for k in d.check_keys
    }
    assert set(by_asset) == in_step
    for key, definition in by_asset.items():
        assert definition.key == key.asset_key  # in the step of the asset it checks
        spec = definition.get_spec_for_check_key(key)
        check = next(c for c in checks if c.key == key)
        assert (spec.description, spec.blocking) == (check.description, check.blocking)


def test_lists_check_reads_only_what_audit_ranking_reads() -> None:
    # lists_not_collapsed also reads staging.as_of_date: upstream of audit_ranking, so
    # evaluated in audit_ranking's step it still reads this run's as-of date.
    ranking = dg.AssetSelection.assets(dg.AssetKey(["marts", "audit_ranking"]))
    upstream = ranking.upstream().resolve(defs.resolve_asset_graph())
    assert dg.AssetKey(["staging", "as_of_date"]) in upstream


def _materialize(settings, selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    from fiscal_intel.partitions import with_tax_years

    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(
            with_tax_years(all_assets, settings),
            selection=selection,
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
        )


def test_asset_without_its_checks_and_check_without_its_asset(demo_run, tmp_path: Path) -> None:
    shutil.copy(demo_run["warehouse"], tmp_path / "w.duckdb")
    settings = load_settings(
        landing=str(demo_run["landing"]), warehouse=str(tmp_path / "w.duckdb")
    )
    # A check alone: evaluated on the table as it is, the asset not rebuilt.
    alone = _materialize(settings, dg.AssetSelection.checks(ACCOUNTING))
    assert alone.success
    evaluations = alone.get_asset_check_evaluations()
    assert [(e.asset_check_key, e.passed) for e in evaluations] == [(ACCOUNTING, True)]
    assert not alone.get_asset_materialization_events()
    # The asset without its checks (what `fiscal-intel evaluate` runs): no check evaluated.
    bare = _materialize(settings, dg.AssetSelection.assets(PAYMENTS).without_checks())
    assert bare.success and not bare.get_asset_check_evaluations()
    assert [e.asset_key for e in bare.get_asset_materialization_events()] == [PAYMENTS]
    # The asset with its checks: every check of it evaluated after the table, in one step.
    both = _materialize(settings, dg.AssetSelection.assets(PAYMENTS))
    steps = {e.step_key for e in both.all_events if e.step_key}
    assert both.success and steps == {"raw__payments"}
    assert {e.asset_check_key for e in both.get_asset_check_evaluations()} == {
        c.key for c in checks if c.asset == ("raw", "payments") and in_asset_step(c)
    }
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.payments").fetchone()[0] > 0
