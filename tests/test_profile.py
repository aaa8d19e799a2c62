"""Where a run's time and memory go: per-step seconds, per-stage peak RSS, ``--profile``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fiscal_intel.cli import main
from fiscal_intel.profiling import PHASES, process_peak_rss_bytes, run_profile, step_phase
from fiscal_intel.run_events import StageResult
from fiscal_intel.runner import run_pipeline
from fiscal_intel.settings import load_settings

FIXTURE = Path(__file__).parent / "fixtures" / "landing_small"
MIB = 2**20


def test_steps_add_up_to_the_stage_and_memory_is_measured(tmp_path: Path) -> None:
    settings = load_settings(landing=str(FIXTURE), warehouse=str(tmp_path / "w.duckdb"))
    stages = run_pipeline(settings, stages=("ref", "raw"))
    assert [s.stage for s in stages] == ["ref", "raw"]
    for stage in stages:
        in_steps = sum(stage.steps.values())
        assert stage.steps and all(seconds > 0 for seconds in stage.steps.values())
        # Steps run one after another in-process: they fit in the stage. How much of the stage
        # is Dagster's own time around them depends on the machine's load, so it is measured by
        # benchmarks/stage_overhead.py (numbers in stage_overhead_results.json), not bounded here.
        assert in_steps <= stage.seconds
        # A Python process holding DuckDB and Dagster is tens of MiB, below the process peak.
        assert 30 * MIB < stage.peak_rss_bytes <= process_peak_rss_bytes()
    raw = stages[1].steps
    # A raw asset's own checks run in its step, the freshness checks of every source in one.
    assert {"raw__payments", "raw_freshness"} <= set(raw)
    assert "raw__payments_checks" not in raw
    assert {step_phase(k) for k in raw} == {"ingest", "validate"}
    assert step_phase("raw_freshness") == "validate"


def test_step_phases() -> None:
    assert step_phase("ref__ciiu_classes") == "ingest"
    assert step_phase("staging__stg_declarations") == "staging"
    assert step_phase("staging__stg_declarations_filer_known") == "validate"
    assert step_phase("raw_freshness") == "validate"
    assert step_phase("features__omiso_features") == "features"
    assert step_phase("scoring__risk_models") == "train"
    assert step_phase("scoring__backtest") == "train"
    assert step_phase("scoring__omiso_scores") == "score"
    assert step_phase("marts__registry_match_rates") == "marts"  # run in the staging group
    assert step_phase("exports__leadership_report") == "marts"


def test_profile_accounts_for_every_second() -> None:
    stages = [
        StageResult("raw", 3.0, 2, steps={"raw__payments": 2.0, "raw_freshness": 0.5},
                    peak_rss_bytes=100 * MIB),
        StageResult("scoring", 2.0, 1, steps={"scoring__omiso_scores": 1.5},
                    peak_rss_bytes=300 * MIB),
    ]  # fmt: skip
    profile = run_profile(
        stages, pipeline_seconds=5.5, startup_seconds=4.0, generate_seconds=1.0, total_seconds=9.7
    )
    phases = profile["phases"]
    assert list(phases) == list(PHASES)
    assert phases["generate"]["seconds"] == 1.0
    assert phases["ingest"]["seconds"] == 2.0 and phases["validate"]["seconds"] == 0.5
    assert phases["score"]["peak_rss_bytes"] == 300 * MIB
    assert phases["ingest"]["peak_rss_bytes"] == 100 * MIB
    assert profile["overhead"] == pytest.approx(
        {
            "startup": 3.0,  # the process's age at the pipeline's start, less generating
            "dagster_around_steps": 1.0,  # 5 s of stages, 4 s of steps
            "pipeline_outside_stages": 0.5,
            "after_pipeline": 0.2,
        }
    )
    assert sum(p["seconds"] for p in phases.values()) == pytest.approx(9.7)


def test_run_profile_file_even_when_the_run_fails(tmp_path: Path, capsys) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE, landing)
    (landing / "payments" / "corrupt.csv").write_text("payment_id;nit\nX;1\n")
    out = tmp_path / "profile" / "run.json"
    argv = ["run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb")]
    assert main([*argv, "--profile", str(out)]) == 1
    assert "corrupt.csv" in capsys.readouterr().err
    profile = json.loads(out.read_text())
    assert profile["status"] == "failed"
    # The run stops after the raw stage; the failed stage is in the profile with its steps.
    assert [s["stage"] for s in profile["stages"]] == ["ref", "raw"]
    raw = profile["stages"][1]
    assert raw["steps"]["raw__payments"]["phase"] == "ingest"
    assert raw["steps"]["raw__payments"]["seconds"] > 0
    assert raw["peak_rss_bytes"] > 30 * MIB
    assert profile["peak_rss_bytes"] >= raw["peak_rss_bytes"]
    phases = profile["phases"]
    assert phases["ingest"]["seconds"] > 0 and phases["staging"]["seconds"] == 0
    assert sum(p["seconds"] for p in phases.values()) == pytest.approx(
        profile["total_seconds"], abs=0.05
    )
    assert profile["total_seconds"] >= profile["pipeline_seconds"] > 0
