"""Issue #19 req. 1: the department as a Dagster code location whose municipalities are dynamic
partitions keyed by DANE code (``fiscal_intel.department.definitions``): the code location loads,
the landing sensor adds exactly the DIVIPOLA codes as partitions and runs only new or changed
folders, and materialising the partitions builds the same warehouses (and department view) as
``fiscal-intel run --warehouse-dir`` (the session's ``department`` fixture)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import DEPARTMENT_BROKEN, DEPARTMENT_GOOD

from fiscal_intel.department.partitions import (
    DEPARTMENT_JOB,
    LISTS_JOB,
    MUNICIPALITY_JOB,
    MUNICIPALITY_MODELS,
    MUNICIPALITY_WAREHOUSE,
    POOLED_JOB,
    POOLED_MODELS,
    municipality_partitions,
)

ROOT = Path(__file__).resolve().parents[1]


def _settings_resource(landing: Path, warehouse_dir: Path):
    from fiscal_intel.resources import FiscalSettings
    from fiscal_intel.settings import load_settings

    settings = load_settings(landing=str(landing), warehouse_dir=str(warehouse_dir))
    return FiscalSettings(**settings.model_dump())


def test_department_code_location_loads() -> None:
    from fiscal_intel.department.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        "department/municipality_models", "department/pooled_models",
        "department/municipality_warehouse", "department/department_warehouse",
        "department/department_report",
    }  # fmt: skip
    partitioned = {
        k.to_user_string(): graph.get(k).partitions_def for k in graph.get_all_asset_keys()
    }
    # A municipality is two partitions around the pooled models: its first run, its lists.
    assert partitioned.pop("department/municipality_models") == municipality_partitions
    assert partitioned.pop("department/municipality_warehouse") == municipality_partitions
    assert isinstance(municipality_partitions, dg.DynamicPartitionsDefinition)
    assert set(partitioned.values()) == {None}  # the pooled models and view read all partitions
    assert graph.get(MUNICIPALITY_WAREHOUSE).parent_keys == {MUNICIPALITY_MODELS, POOLED_MODELS}
    assert graph.get(POOLED_MODELS).parent_keys == {MUNICIPALITY_MODELS}
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {MUNICIPALITY_JOB, POOLED_JOB, LISTS_JOB, DEPARTMENT_JOB} <= jobs
    sensor = defs.resolve_sensor_def("department_landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    dg.Definitions.validate_loadable(defs)  # what `dagster dev -m ...` checks when loading


def _tick(sensor, instance, resource, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": resource}
    )
    result = sensor(context)
    for request in result.dynamic_partitions_requests:  # what the daemon does with them
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    added = sorted(k for r in result.dynamic_partitions_requests for k in r.partition_keys)
    runs = [(r.job_name, r.partition_key) for r in result.run_requests]
    return added, runs, result


def test_sensor_adds_divipola_codes_and_runs_only_new_or_changed_folders(
    department, tmp_path
) -> None:
    from fiscal_intel.department.sensors import department_landing_sensor

    landing = tmp_path / "landing"
    for code in ("05615", "05002", "99999"):  # two municipalities and a folder no DANE code
        shutil.copytree(department["landing"] / code, landing / code)
    resource = _settings_resource(landing, tmp_path / "wh")
    with dg.DagsterInstance.ephemeral() as instance:
        added, runs, result = _tick(department_landing_sensor, instance, resource, None)
        assert added == ["05002", "05615"]  # 99999 refused: not in DIVIPOLA
        first_key = result.run_requests[0].run_key  # 05002's
        assert json.loads(result.cursor)["refused"] == ["99999"]  # named once, in the tick's log
        assert runs == [(MUNICIPALITY_JOB, "05002"), (MUNICIPALITY_JOB, "05615")]
        assert set(instance.get_dynamic_partitions("municipality")) == {"05002", "05615"}
        # While a municipality's run is queued or going, the department's view waits.
        from fiscal_intel.department.definitions import defs

        job = defs.resolve_job_def(MUNICIPALITY_JOB)
        run = instance.create_run_for_job(job, tags={"dagster/partition": "05002"})
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], []) and "waiting" in result.skip_reason.skip_message
        instance.report_run_failed(run)  # finished (a failure counts: the view shows it failed)
        # Next tick: nothing changed and no municipality run in progress: the pooled models.
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], [(POOLED_JOB, None)])
        # While the pooled models' run goes, nothing else.
        pooled = instance.create_run_for_job(defs.resolve_job_def(POOLED_JOB))
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], []) and "pooled models" in result.skip_reason.skip_message
        instance.report_run_failed(pooled)
        # Then each built municipality's lists: none here (05002's first run failed, 05615's
        # never ran), so the department's view at once.
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], [(DEPARTMENT_JOB, None)])
        # Then nothing: unchanged folders are not asked for again.
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], []) and "no new or changed" in result.skip_reason.skip_message
        # A new municipality is a new folder: a new partition, no code change.
        shutil.copytree(department["landing"] / "05021", landing / "05021")
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == (["05021"], [(MUNICIPALITY_JOB, "05021")])
        assert json.loads(result.cursor)["pending"] == "first_runs"
        # A changed file asks for its municipality only (the partition exists already).
        with (landing / "05002" / "payments" / "late.csv").open("w", encoding="utf-8") as fh:
            fh.write("payment_id,nit,tax_year,paid_on,amount\n")
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], [(MUNICIPALITY_JOB, "05002")])
        assert result.run_requests[0].tags["fiscal_intel/municipality"] == "05002"
        # The file leaves again: the folder is back to an earlier state, a change all the same,
        # under a run key the daemon has not seen (it launches a run key only once).
        (landing / "05002" / "payments" / "late.csv").unlink()
        added, runs, result = _tick(department_landing_sensor, instance, resource, result.cursor)
        assert (added, runs) == ([], [(MUNICIPALITY_JOB, "05002")])
        key = result.run_requests[0].run_key
        assert key.rsplit("-", 1)[0] == first_key.rsplit("-", 1)[0] and key != first_key


# Materialised here: two of the department's municipalities and the broken one. The third
# (05021) joins as a partition the command built (its files copied from the session's run, as
# when a department moves from the command to the code location), so that the pooled models
# are fitted on the same three municipalities as the command's, at the cost of two runs.
BUILT_HERE = DEPARTMENT_GOOD[:2]
BUILT_BY_THE_COMMAND = DEPARTMENT_GOOD[2]


@pytest.fixture(scope="module")
def partitioned(department, tmp_path_factory):
    """The session department's landing as partitions: each municipality materialised as its
    own partition (one fails), then the department's view over every built partition."""
    from fiscal_intel.department.assets import department_assets
    from fiscal_intel.published import published_path

    root = tmp_path_factory.mktemp("partitioned")
    wh = root / "wh"
    wh.mkdir()
    for path in (department["wh"] / f"{BUILT_BY_THE_COMMAND}.duckdb",):
        shutil.copy(path, wh / path.name)
        shutil.copy(published_path(path), published_path(wh / path.name))
    resource = _settings_resource(department["landing"], wh)
    run_here = sorted([*BUILT_HERE, DEPARTMENT_BROKEN])
    codes = sorted([*run_here, BUILT_BY_THE_COMMAND])
    wall, cpu = time.perf_counter(), time.process_time()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(municipality_partitions.name, codes)
        def materialize(selection, partition_key=None):
            return dg.materialize(
                department_assets, selection=selection, partition_key=partition_key,
                instance=instance, resources={"settings": resource}, raise_on_error=False,
            )  # fmt: skip

        # As the sensor asks for them: the first runs, the pooled models, the lists, the view.
        firsts = {code: materialize([MUNICIPALITY_MODELS], code) for code in run_here}
        pooled = materialize([POOLED_MODELS])
        runs = {code: materialize([MUNICIPALITY_WAREHOUSE], code) for code in BUILT_HERE}
        view = materialize(
            dg.AssetSelection.all()
            - dg.AssetSelection.assets(MUNICIPALITY_MODELS, POOLED_MODELS, MUNICIPALITY_WAREHOUSE)
        )
        status = instance.get_status_by_partition(
            MUNICIPALITY_MODELS, codes, municipality_partitions
        )
        print(
            f"partitions: {len(run_here)} runs and the view in {time.perf_counter() - wall:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU)"
        )
        yield {"firsts": firsts, "pooled": pooled, "runs": runs, "view": view, "status": status,
               "wh": wh}  # fmt: skip


def test_a_failing_municipality_fails_only_its_partition(partitioned) -> None:
    firsts, runs, status = partitioned["firsts"], partitioned["runs"], partitioned["status"]
    assert not firsts[DEPARTMENT_BROKEN].success
    failure = next(e for e in firsts[DEPARTMENT_BROKEN].all_events if e.is_step_failure)
    message = failure.event_specific_data.error.message
    assert f"municipality {DEPARTMENT_BROKEN}" in message and "broken.xlsx" in message
    assert status[DEPARTMENT_BROKEN] == dg.AssetPartitionStatus.FAILED
    assert status[BUILT_BY_THE_COMMAND] is None  # a partition never materialised here
    assert partitioned["pooled"].success
    (pooled,) = partitioned["pooled"].asset_materializations_for_node("department__pooled_models")
    assert pooled.metadata["municipalities"].value == len(DEPARTMENT_GOOD)
    for code in BUILT_HERE:
        assert firsts[code].success and runs[code].success
        assert status[code] == dg.AssetPartitionStatus.MATERIALIZED
        (first,) = firsts[code].asset_materializations_for_node("department__municipality_models")
        assert first.metadata["status"].value == "waiting"  # its lists come after the choice
        (materialization,) = runs[code].asset_materializations_for_node(
            "department__municipality_warehouse"
        )
        metadata = materialization.metadata
        assert metadata["status"].value == "success" and metadata["seconds"].value > 0
        # Ranked as the pooled step chose for it.
        assert metadata["model_choice"].value == pooled.metadata["choices"].value[code]
        assert metadata["warehouse"].value == str(partitioned["wh"] / f"{code}.duckdb")
        assert metadata["taxpayers"].value > 0


def test_partitions_build_the_same_warehouses_as_the_command(department, partitioned) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compare_warehouses import compare

    assert partitioned["view"].success
    for code in BUILT_HERE:
        cli, dagster = department["wh"] / f"{code}.duckdb", partitioned["wh"] / f"{code}.duckdb"
        rows = []
        for path in (cli, dagster):
            with duckdb.connect(str(path), read_only=True) as con:
                rows.append(con.execute("select * from marts.audit_ranking").fetchall())
        assert rows[0] and rows[0] == rows[1], code  # the ranked lists, row for row, in order
        diffs = [row for row in compare(str(cli), str(dagster)) if row[1] not in ("same", "order")]
        assert not diffs, f"{code}: {diffs}"


def test_department_view_reads_every_built_partition(department, partitioned) -> None:
    wh = partitioned["wh"]
    with duckdb.connect(str(wh / "department.duckdb"), read_only=True) as con:
        statuses = dict(
            con.execute("select municipality_code, status from marts.municipalities").fetchall()
        )
        summary = con.execute(
            "select * from marts.municipality_summary order by municipality_code"
        ).fetchall()
    assert statuses == {**dict.fromkeys(DEPARTMENT_GOOD, "success"), DEPARTMENT_BROKEN: "failed"}
    # The command's view also names the folder 99999/, which the sensor never makes a partition.
    with duckdb.connect(str(department["wh"] / "department.duckdb"), read_only=True) as con:
        expected = con.execute(
            "select * from marts.municipality_summary where municipality_code <> '99999' "
            "order by municipality_code"
        ).fetchall()
    assert summary == expected
    assert "RIONEGRO (ANTIOQUIA) (05615)" in (wh / "department.html").read_text(encoding="utf-8")


def test_the_command_takes_the_warehouse_dir_setting(tmp_path, monkeypatch) -> None:
    """`run` on a department landing without --warehouse-dir uses the setting the code
    location reads (FISCAL_INTEL_WAREHOUSE_DIR); the flag still wins."""
    import fiscal_intel.department.runner as runner
    from fiscal_intel.cli import main

    (tmp_path / "landing" / "05615").mkdir(parents=True)
    called = []
    monkeypatch.setattr(runner, "run_department", lambda s, wh, **kw: called.append(wh) or [])
    landing = ["run", "--landing", str(tmp_path / "landing")]
    assert main(landing) == 2  # neither flag nor setting: refused, as before
    monkeypatch.setenv("FISCAL_INTEL_WAREHOUSE_DIR", str(tmp_path / "wh"))
    assert main(landing) == 0
    assert main([*landing, "--warehouse-dir", str(tmp_path / "flag")]) == 0
    assert called == [tmp_path / "wh", tmp_path / "flag"]
