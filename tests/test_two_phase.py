"""Issue #19: a department builds each municipality's lists once, with the pooled step's choice
already made. Each municipality is two Dagster runs around the pooled step (the first builds
everything the step reads, the second the score tables and what reads them, ranked as
``marts.model_choice`` says), one ``ops.run_log`` row; the lists equal what the earlier design
gave (the whole run with the municipality's own model, then the choice applied by re-scoring
and rebuilding what reads the scores); a run without the department's tag ranks with the
municipality's own model whatever choice its warehouse holds; and ``status`` shows a
municipality waiting between its two runs as going on, not as died."""

from __future__ import annotations

import io
import os
import shutil
from contextlib import redirect_stdout
from datetime import datetime

import dagster as dg
import duckdb
from conftest import DEPARTMENT_GOOD

from fiscal_intel.scoring.programs import PROGRAMS

# What the second run builds: the score tables and what reads them.
LISTS = [
    "marts/audit_ranking", "marts/audit_burden", "marts/model_performance",
    "scoring/case_actions", *(f"scoring/{p}_scores" for p in PROGRAMS),
]  # fmt: skip


def _choices(path) -> dict[str, tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select c.program, c.choice, case c.choice when 'pooled' then c.pooled_model_version "
            "when 'rule' then 'rule' else m.model_version end "
            "from marts.model_choice as c join scoring.risk_models as m using (program)"
        ).fetchall()
    return {program: (choice, version) for program, choice, version in rows}


def test_each_municipality_two_runs_lists_built_once(department) -> None:
    from fiscal_intel.instance import dagster_home

    for code in DEPARTMENT_GOOD:
        warehouse = department["wh"] / f"{code}.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            (run_id,) = con.execute("select run_id from ops.run_log").fetchone()
        choices = _choices(warehouse)
        with dg.DagsterInstance.from_config(str(dagster_home(warehouse))) as instance:
            runs = instance.get_runs(dg.RunsFilter(tags={"fiscal_intel/run_id": run_id}))
            phases = sorted(r.tags.get("fiscal_intel/phase") for r in runs)
            assert phases == ["after_choice", "before_choice"], code  # two runs, no third
            built = {}
            for run in runs:
                for entry in instance.all_logs(
                    run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
                ):
                    key = entry.dagster_event.asset_key.to_user_string()
                    built.setdefault(key, []).append(
                        (run.tags["fiscal_intel/phase"], entry.asset_materialization.metadata)
                    )
        # The lists once, in the second run; everything else in the first only.
        for key in LISTS:
            assert [p for p, _ in built[key]] == ["after_choice"], (code, key)
        assert {p for k, v in built.items() if k not in LISTS for p, _ in v} == {"before_choice"}
        assert "scoring/risk_models" in built and "scoring/backtest" in built
        # Each program's scores were built with the model the pooled step chose.
        for program, (choice, version) in choices.items():
            metadata = built[f"scoring/{program}_scores"][0][1]
            assert metadata["model_version"].value == version, (code, program)
            assert metadata["model_choice"].value == choice
    assert {c for code in DEPARTMENT_GOOD for c, _ in _choices(
        department["wh"] / f"{code}.duckdb").values()} - {"own"}  # fmt: skip


def _ranking(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select * from marts.audit_ranking").fetchall()


def _choose_then_rescore(settings, choices: dict[str, tuple[str, str]]) -> None:
    """What the pooled step did before this design, on a warehouse whose lists its own model
    built: where the choice is the pooled model or the rule, score the program again with it,
    store the scores, then rebuild what reads them through Dagster."""
    from fiscal_intel.scoring.choice import (
        SCORE_COLUMNS,
        municipality_profile,
        pooled_model_from_record,
        rule_scores,
    )
    from fiscal_intel.scoring.ranking import score_program
    from fiscal_intel.sqlfiles import frame, scalar
    from fiscal_intel.warehouse import connect_warehouse

    with connect_warehouse(settings.warehouse) as con:
        as_of = scalar(con, "select as_of from staging.as_of_date")
        for program, (choice, _) in choices.items():
            if choice == "pooled":
                record = frame(con, "select * from scoring.pooled_models where program = $p",
                               {"p": program}).row(0, named=True)  # fmt: skip
                profile = municipality_profile(con, program, as_of)
                consts = ", ".join(f"{v!r}::double as {k}" for k, v in profile.items())
                con.execute(
                    f"create or replace temp table pooled_{program}_candidates as select *, "
                    f"{consts} from features.{program}_features where is_candidate"
                )
                scores = score_program(con, pooled_model_from_record(record), settings,
                                       table=f"pooled_{program}_candidates")  # fmt: skip
            elif choice == "rule":
                scores = rule_scores(con, program)
            else:
                continue
            con.register("_scores", scores.select(
                [c for c in SCORE_COLUMNS if c in scores.columns]).to_arrow())  # fmt: skip
            con.execute(f"create or replace table scoring.{program}_scores as select * "
                        "from _scores")  # fmt: skip
            con.unregister("_scores")
    with dg.DagsterInstance.ephemeral() as instance:
        assert rebuild_after_scores(settings, instance) is None


def test_lists_equal_choosing_then_rescoring(department, tmp_path) -> None:
    """On a copy of each municipality's warehouse: its lists rebuilt by a run without the
    department's tag rank with its own model (as a municipality run alone does, whatever
    choice the file holds); applying the choice the old way then gives, row for row, the
    department's list built once."""
    from fiscal_intel.department.runner import municipality_settings
    from fiscal_intel.runner import AFTER_CHOICE, run_pipeline
    from fiscal_intel.settings import load_settings

    compared = 0
    for code in DEPARTMENT_GOOD:
        built = department["wh"] / f"{code}.duckdb"
        choices = _choices(built)
        if {c for c, _ in choices.values()} == {"own"}:
            continue  # nothing to re-score: the old design left its own lists
        wh = tmp_path / code
        wh.mkdir()
        shutil.copy(built, wh / built.name)
        settings = municipality_settings(load_settings(), code, department["landing"] / code, wh)
        # The lists alone, no department tag: the own model, the stored choice ignored.
        run_pipeline(settings, phase=AFTER_CHOICE, log_level="CRITICAL")
        with duckdb.connect(settings.warehouse, read_only=True) as con:
            versions = dict(con.execute(
                "select program, model_version from scoring.risk_models").fetchall())  # fmt: skip
            ranked = dict(con.execute(
                "select program, any_value(model_version) from marts.audit_ranking "
                "group by program").fetchall())  # fmt: skip
        assert ranked == versions, code
        _choose_then_rescore(settings, choices)
        assert _ranking(settings.warehouse) == _ranking(built), code
        compared += 1
    assert compared


def _status(settings) -> tuple[int, str]:
    from fiscal_intel.status import print_status

    out = io.StringIO()
    with redirect_stdout(out):
        code = print_status(settings)
    return code, out.getvalue()


def test_status_shows_a_municipality_waiting_for_the_pooled_step(department, tmp_path) -> None:
    from fiscal_intel.run_marker import write_marker
    from fiscal_intel.settings import load_settings

    code = DEPARTMENT_GOOD[1]
    for path in (f"{code}.duckdb", f"{code}.published.duckdb"):
        shutil.copy(department["wh"] / path, tmp_path / path)
    settings = load_settings(landing=str(department["landing"] / code),
                             warehouse=str(tmp_path / f"{code}.duckdb"))  # fmt: skip
    finished, _ = _status(settings)  # the department's run (0, or 2 when checks warn)
    started = datetime.now()  # after the department's run: the latest
    with duckdb.connect(settings.warehouse) as con:
        con.execute(
            "insert into ops.run_log (run_id, started_at, status, landing) "
            "values ('second', ?, 'running', 'x')",
            [started],
        )
    # Between its two runs, its first run's process alive: going on, not died.
    write_marker(settings.warehouse, "second", started, "waiting", None, record={"stages": []})
    exit_code, out = _status(settings)
    assert "department run is going on" in out and "pooled step" in out
    assert "DIED" not in out
    assert exit_code == finished  # judged on the latest finished run, as while a run holds it
    # Its process gone (the department was killed between the two runs): died.
    marker = tmp_path / f"{code}.duckdb.run.json"
    marker.write_text(marker.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999'))
    exit_code, out = _status(settings)
    assert "DIED" in out and exit_code == 1


def test_phases_split_the_steps() -> None:
    from fiscal_intel.resources import build_resources
    from fiscal_intel.runner import _ordered_assets_and_checks, phase_selection
    from fiscal_intel.settings import load_settings

    def steps(name: str) -> set[str]:
        job = dg.Definitions(
            assets=list(_ordered_assets_and_checks()),
            resources=build_resources(load_settings()),
            jobs=[dg.define_asset_job("j", selection=phase_selection(name))],
        ).resolve_job_def("j")
        return {n.name for n in job.graph.node_defs}

    whole, first, second = steps("whole"), steps("before_choice"), steps("after_choice")
    assert first | second == whole and not first & second
    assert {"scoring__omiso_scores", "marts__audit_ranking", "scoring__case_actions"} <= second
    assert {"scoring__risk_models", "scoring__backtest", "marts__revenue_monthly"} <= first


def rebuild_after_scores(settings, instance: dg.DagsterInstance) -> str | None:
    """The old path's second half, kept here as the reference the two runs are compared with:
    rebuild what reads the score tables, with their checks, in one Dagster materialisation."""
    from fiscal_intel.definitions import defs
    from fiscal_intel.partitions import with_tax_years
    from fiscal_intel.resources import build_resources
    from fiscal_intel.run_events import failure_reason
    from fiscal_intel.runner import assets_and_checks

    scores = dg.AssetSelection.assets(*(dg.AssetKey(["scoring", f"{p}_scores"]) for p in PROGRAMS))
    keys = (scores.downstream() - scores).resolve(defs.resolve_asset_graph())
    everything = with_tax_years(assets_and_checks(), settings)  # the run's tax years
    assets = [a for a in everything if isinstance(a, dg.AssetsDefinition) and set(a.keys) & keys]
    checks = [
        c for c in everything
        if isinstance(c, dg.AssetChecksDefinition) and {k.asset_key for k in c.check_keys} & keys
    ]  # fmt: skip
    result = dg.materialize(
        [*assets, *checks],
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    return None if result.success else failure_reason(result.all_events)
