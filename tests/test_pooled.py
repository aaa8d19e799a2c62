"""Issue #19, requirement 3: pooled learning for small municipalities. The chooser (pure), the
pooled training rows (no taxpayer identity crosses a municipality) and the department step
(choice recorded, lists re-ranked by expected money) on the shared tiny department."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import DEPARTMENT_GOOD

from fiscal_intel.department.pooled import (
    IDENTIFYING,
    LABEL_COLUMNS,
    METHODS,
    MIN_HELD_OUT,
    SMALL_OFFICE_AUDITS,
    choose,
    pool_part,
    pooled_frame,
    recovery_area,
    train_pooled,
)
from fiscal_intel.scoring.choice import MUNICIPALITY_FEATURES, pooled_features
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.sqlfiles import frame


def test_recovery_area_rewards_money_first() -> None:
    amount = np.array([0.0, 10.0, 0.0, 90.0])
    best = recovery_area(np.array([1.0, 2.0, 0.0, 3.0]), amount)
    worst = recovery_area(np.array([3.0, 1.0, 2.0, 0.0]), amount)
    assert best == pytest.approx((0.9 + 1.0 + 1.0 + 1.0) / 4)
    assert worst == pytest.approx((0.0 + 0.0 + 0.1 + 1.0) / 4)
    assert recovery_area(np.array([1.0, 2.0]), np.zeros(2)) is None
    assert recovery_area(np.array([]), np.array([])) is None


def test_choose_takes_the_best_backtest_and_falls_back_to_the_prior() -> None:
    many = MIN_HELD_OUT + 5
    assert choose({"own": 0.5, "pooled": 0.7, "rule": 0.6}, many, 10)[0] == "pooled"
    assert choose({"own": 0.8, "pooled": 0.7, "rule": 0.6}, many, 10)[0] == "own"
    assert choose({"own": 0.5, "pooled": 0.5, "rule": 0.9}, many, 500)[0] == "rule"
    # Ties: own, then pooled, then the rule.
    assert choose({"own": 0.5, "pooled": 0.5, "rule": 0.5}, many, 10)[0] == "own"
    assert choose({"own": 0.4, "pooled": 0.5, "rule": 0.5}, many, 10)[0] == "pooled"
    # Too few held-out audits (or no money among them): small offices pool, large keep theirs.
    few = MIN_HELD_OUT - 1
    assert choose({"own": 0.9, "pooled": 0.1, "rule": 0.1}, few, 10)[0] == "pooled"
    assert choose({"own": 0.1, "pooled": 0.9, "rule": 0.1}, few, SMALL_OFFICE_AUDITS)[0] == "own"
    choice, reason = choose(dict.fromkeys(METHODS), many, 3)
    assert choice == "pooled" and "too few" in reason
    assert "0.700" in choose({"own": 0.5, "pooled": 0.7, "rule": 0.6}, many, 10)[1]


def _nits(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("select nit from staging.stg_taxpayers").fetchall()}


def test_pooled_rows_carry_no_taxpayer_identity(department) -> None:
    parts = {p: [] for p in PROGRAMS}
    nits: set[str] = set()
    for code in DEPARTMENT_GOOD:
        with duckdb.connect(str(department["wh"] / f"{code}.duckdb"), read_only=True) as con:
            as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
            nits |= _nits(con)
            for program in PROGRAMS:
                parts[program].append(pool_part(con, program, as_of, code))
    assert len(nits) > 100
    for program, program_parts in parts.items():
        allowed = {*PROGRAMS[program].feature_list, *LABEL_COLUMNS, *MUNICIPALITY_FEATURES,
                   PROGRAMS[program].amount.target, PROGRAMS[program].amount.base,
                   PROGRAMS[program].evidence, "filed"}  # fmt: skip
        for what in ("audits", "amount", "late"):
            pooled = pooled_frame(program_parts, what)
            if pooled is None:
                continue
            assert not set(pooled.columns) & set(IDENTIFYING), (program, what)
            assert set(pooled.columns) <= allowed, set(pooled.columns) - allowed
            # No value anywhere in the frame is a NIT of any municipality.
            for name, dtype in pooled.schema.items():
                if dtype == pl.Utf8:
                    assert name == "audit_selection"
                    assert set(pooled[name].drop_nulls()) <= {"random", "risk"}
                elif dtype.is_integer():
                    assert not {str(v) for v in pooled[name].drop_nulls()} & nits, name
        # The municipality-level features differ between municipalities, constant within one.
        sizes = {p.code: p.audits["municipality_log_taxpayers"].unique().to_list()
                 for p in program_parts}  # fmt: skip
        assert all(len(v) <= 1 for v in sizes.values())
        model = train_pooled(program, program_parts, seed=1, threads=1, rounds=20)
        assert model.features == pooled_features(program)
        assert model.train_rows == sum(p.audits.height for p in program_parts)
        assert model.params["municipalities"] == sorted(DEPARTMENT_GOOD)


def test_department_step_records_the_choice_and_reranks(department) -> None:
    contract = [
        "program", "rank", "nit", "legal_name", "tax_year", "risk_score", "expected_recovery",
        "reasons", "statute_expires_on", "action", "expected_net",
    ]  # fmt: skip
    choices = []
    for code in DEPARTMENT_GOOD:
        # Readers see it: the warehouse was published again after the step.
        path = department["wh"] / f"{code}.published.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                "select program, choice, own_score, pooled_score, rule_score, held_out_audits, "
                "own_audits, pooled_audits, pooled_municipalities, pooled_model_version "
                "from marts.model_choice order by program"
            ).fetchall()
            assert [r[0] for r in rows] == sorted(PROGRAMS)
            for program, choice, *_, pooled_audits, municipalities, version in rows:
                assert choice in METHODS
                assert municipalities == len(DEPARTMENT_GOOD) and pooled_audits > 0
                choices.append(choice)
                ranking = frame(
                    con,
                    "select * from marts.audit_ranking where program = $p order by rank",
                    {"p": program},
                )
                assert set(contract) <= set(ranking.columns)
                assert ranking["rank"].to_list() == list(range(1, ranking.height + 1))
                er = ranking["expected_recovery"].to_numpy()
                assert (np.diff(er) <= 0).all()
                own = con.execute(
                    "select model_version from scoring.risk_models where program = $p",
                    {"p": program},
                ).fetchall()[0][0]
                expected = {"own": own, "pooled": version, "rule": "rule"}[choice]
                assert set(ranking["model_version"].unique()) <= {expected}
                stored = con.execute(
                    "select model_version from scoring.pooled_models where program = $p",
                    {"p": program},
                ).fetchall()[0][0]
                assert stored == version
    # The tiny offices have few audits: the pooled model is chosen somewhere.
    assert "pooled" in choices
    # The department's file holds none of it at taxpayer level.
    with duckdb.connect(str(department["wh"] / "department.duckdb"), read_only=True) as con:
        columns = {r[0] for r in con.execute(
            "select column_name from information_schema.columns"
        ).fetchall()}  # fmt: skip
    assert "nit" not in columns and "reason_codes" not in columns
