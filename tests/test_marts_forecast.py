"""The revenue forecast: the model on series whose answer is known, the naive benchmark, the
backtest bookkeeping, and the mart on the generated municipality."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest

from fiscal_intel.leadership.forecast import (
    MonthlySeries,
    backtest_errors,
    forecast_rows,
    model_forecast,
    naive_forecast,
    real_growth,
    t975,
)

# A deadline-shaped year: most ICA arrives in April and May.
SHAPE = np.array([1, 1, 9, 47, 23, 5, 5, 3, 2, 2, 1, 1], float) / 100
INFLATION = {2018: 3.18, 2019: 3.80, 2020: 1.61, 2021: 5.62, 2022: 13.12, 2023: 9.28}


def series(annual: dict[int, float], tail: np.ndarray | None = None) -> MonthlySeries:
    values = np.concatenate([annual[y] * SHAPE for y in sorted(annual)])
    if tail is not None:
        values = np.concatenate([values, tail])
    return MonthlySeries(date(min(annual), 1, 1), values)


def steady(real: float, first: int = 2019, last: int = 2023) -> dict[int, float]:
    """Annual totals growing by ``real`` plus the previous year's inflation, exactly."""
    out = {first: 100e9}
    for y in range(first + 1, last + 1):
        out[y] = out[y - 1] * (1 + real) * (1 + INFLATION[y - 1] / 100)
    return out


def test_t_quantiles() -> None:
    assert t975(1) == 12.706
    assert t975(4) == 2.776
    assert t975(22) == 2.086  # between tabulated 20 and 25: the wider one
    assert t975(100) == 1.96
    with pytest.raises(ValueError):
        t975(0)


def test_complete_years_skip_a_partial_first_and_last_year() -> None:
    s = MonthlySeries(date(2019, 3, 1), np.ones(12 * 3))  # Mar 2019 .. Feb 2022
    assert s.complete_years() == {2020: 12.0, 2021: 12.0}


def test_model_recovers_steady_real_growth_and_naive_does_not() -> None:
    annual = steady(0.04)
    s = series(annual)
    expected = annual[2023] * 1.04 * (1 + INFLATION[2023] / 100)
    model = model_forecast(s, 2024, INFLATION)
    assert model.forecast == pytest.approx(expected, rel=1e-9)
    assert model.lower == pytest.approx(expected, rel=1e-9)  # no variation, no uncertainty
    assert model.growth_obs == 4
    naive = naive_forecast(s, 2024)
    assert naive.forecast == pytest.approx(annual[2023] ** 2 / annual[2022])
    assert abs(naive.forecast / expected - 1) > 0.02  # inflation moved; naive misses it


def test_year_to_date_dominates_once_the_deadline_has_passed() -> None:
    annual = steady(0.04)
    rng = np.random.default_rng(0)
    # Make past growth noisy so the drift is uncertain, then observe Jan-Jun of 2024.
    noisy = {y: v * float(np.exp(rng.normal(0, 0.08))) for y, v in annual.items()}
    truth_2024 = noisy[2023] * 0.5  # a collapse the drift cannot know about
    s = series(noisy, tail=truth_2024 * SHAPE[:6])
    f = model_forecast(s, 2024, INFLATION)
    assert f.forecast == pytest.approx(truth_2024, rel=1e-6)  # the seasonal share is exact
    # A year further on: the mean real growth and the latest inflation on that estimate, with
    # a wider interval.
    f25 = model_forecast(s, 2025, INFLATION)
    mu = float(np.mean(real_growth(s.complete_years(), INFLATION)))
    assert f25.forecast == pytest.approx(f.forecast * math.exp(mu) * (1 + INFLATION[2023] / 100))
    assert (f25.upper - f25.lower) > (f.upper - f.lower)


def test_interval_covers_a_noisy_series_and_needs_two_growth_years() -> None:
    rng = np.random.default_rng(1)
    annual = {y: v * float(np.exp(rng.normal(0, 0.05))) for y, v in steady(0.03).items()}
    f = model_forecast(series(annual), 2024, INFLATION)
    assert f.lower < f.forecast < f.upper
    short = model_forecast(series({2022: 1e9, 2023: 1.1e9}), 2024, INFLATION)
    assert short.forecast is not None and short.lower is None  # one growth: no interval
    assert model_forecast(series({2023: 1e9}), 2024, INFLATION).forecast is None


def test_forecast_rows_backtest_every_year_with_two_before_it() -> None:
    annual = steady(0.02)
    s = series(annual, tail=annual[2023] * 1.1 * SHAPE[:6])  # data end: June 2024
    rows = forecast_rows(s, INFLATION)
    actual = [r["target_year"] for r in rows if r["kind"] == "actual"]
    assert actual == [2019, 2020, 2021, 2022, 2023]
    backtests = [r for r in rows if r["kind"] == "backtest"]
    # 2021-2023, from the December before (12 months ahead) and from June (6 months ahead).
    assert {(r["target_year"], r["horizon_months"]) for r in backtests} == {
        (y, h) for y in (2021, 2022, 2023) for h in (12, 6)
    }
    assert {r["origin"] for r in backtests if r["target_year"] == 2022} == {
        date(2021, 12, 31), date(2022, 6, 30)
    }
    for r in backtests:
        assert r["error_pct"] == pytest.approx(r["forecast"] / r["actual"] - 1)
    forecasts = [r for r in rows if r["kind"] == "forecast"]
    assert {(r["target_year"], r["method"]) for r in forecasts} == {
        (y, m) for y in (2024, 2025) for m in ("model", "naive")
    }
    assert all(r["origin"] == date(2024, 6, 30) for r in forecasts)
    errors = backtest_errors(rows)
    assert errors[("model", 12)]["n"] == 3
    assert errors[("model", 12)]["mape"] < 1e-9 < errors[("naive", 12)]["mape"]


@pytest.fixture(scope="module")
def wh(demo_run) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_run["warehouse"]), read_only=True)
    yield con
    con.close()


def test_the_mart_on_the_demo(wh) -> None:
    rows = wh.sql("select * from marts.revenue_forecast").pl()
    as_of = wh.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    # Actual years are the calendar years of the payments loaded, to the peso.
    monthly = dict(
        wh.execute(
            "select year(paid_on)::integer, sum(amount)::double from staging.stg_payments "
            "group by all"
        ).fetchall()
    )
    actual = rows.filter(kind="actual")
    assert actual.height >= 5
    for year, total in actual.select("target_year", "actual").iter_rows():
        assert total == pytest.approx(monthly[year], abs=1)
    forecasts = rows.filter(kind="forecast", method="model")
    assert as_of.year + 1 in forecasts["target_year"].to_list()
    for r in forecasts.iter_rows(named=True):
        assert r["lower_95"] < r["forecast"] < r["upper_95"]
    backtests = rows.filter(kind="backtest")
    assert backtests.filter(method="model").height == backtests.filter(method="naive").height >= 4
    for r in backtests.iter_rows(named=True):
        if r["error_pct"] is not None:
            assert math.isclose(r["error_pct"], r["forecast"] / r["actual"] - 1)


# --- The backtest command on Rionegro's real collection (shared/ lies beside the clone) ---------

REPO = Path(__file__).resolve().parents[1]
SHARED = next(
    (p for p in (REPO.parent / "shared", REPO.parent.parent / "shared") if p.is_dir()),
    REPO.parent / "shared",
)
RIONEGRO = SHARED / "real" / "rionegro_ica_payments_monthly_2001_2020.csv"
DANE_CPI = SHARED / "reference" / "dane_cpi_index_1988_2018.csv"


def test_forecast_backtest_command_on_rionegro(capsys: pytest.CaptureFixture) -> None:
    from fiscal_intel.cli import main

    # Two target years and three monthly origins keep the ETS refits (~1 s each) short; the full
    # backtest is benchmarks/forecast.py (results in benchmarks/forecast_results.json).
    args = ["forecast-backtest", "--series", str(RIONEGRO), "--cpi", str(DANE_CPI),
            "--first-year", "2019", "--last-year", "2020",
            "--first-origin", "2019-10", "--last-origin", "2019-12"]  # fmt: skip
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # JSON and nothing else
    assert set(out) == {"yearly", "monthly"}
    assert set(out["yearly"]) == {"model", "naive", "seasonal_naive", "ets"}
    assert set(out["monthly"]) == {"model", "seasonal_naive", "ets"}
    for v in out["yearly"].values():
        assert set(v) == {"mape", "coverage95", "n"} and v["n"] == 2
    for v in out["monthly"].values():
        assert set(v) == {"mape", "mase", "coverage80", "n"} and v["n"] == 36
    # 2019 and 2020 from the Decembers before: the yearly model within 5 %, the baselines not.
    assert out["yearly"]["model"]["mape"] < 0.05 < out["yearly"]["naive"]["mape"]
    assert out["yearly"]["model"]["coverage95"] == 1.0
    # The table for people: per method and horizon (one origin, one year: the layout only).
    one = ["--first-year", "2020", "--first-origin", "2019-12", "--last-origin", "2019-12"]
    assert main([*args[:5], *one]) == 0
    table = capsys.readouterr().out
    assert "seasonal_naive" in table and " 12 " in table and "cov80" in table


def test_series_reader_refuses_gaps_and_names_the_file(tmp_path: Path) -> None:
    from fiscal_intel.leadership.backtest import read_series

    f = tmp_path / "recaudo.csv"
    f.write_text("mes;valor\n2020-01;1.234,5\n2020-03;10\n", encoding="utf-8")
    with pytest.raises(ValueError, match="recaudo.csv: month 2020-02 is missing"):
        read_series(f)
    f.write_text("mes;valor\n2020-01;1.234,5\n2020-02;10\n", encoding="utf-8")
    s = read_series(f)
    assert s.start == date(2020, 1, 1) and list(s.values) == [1234.5, 10.0]


def test_monthly_forecast_adds_up_to_the_yearly_one_and_follows_a_december_shift() -> None:
    from fiscal_intel.leadership.forecast import monthly_forecast_rows, seasonal_shares

    # Eight years with the deadline shape, then three where December carries 30 % of the year,
    # then January-June of the year in progress.
    shifted = SHAPE * 0.7 / SHAPE[:11].sum()
    shifted[11] = 0.3
    annual = {y: 100e9 * 1.08 ** (y - 2012) for y in range(2012, 2023)}
    values = np.concatenate(
        [annual[y] * (SHAPE if y < 2020 else shifted) for y in sorted(annual)]
        + [annual[2022] * 1.1 * shifted[:6]]
    )
    infl = {y: 3.0 for y in range(2010, 2024)} | INFLATION
    s = MonthlySeries(date(2012, 1, 1), values)
    rows = monthly_forecast_rows(s, infl)
    assert [r["month"] for r in rows] == [date(2023, m, 1) for m in range(7, 13)] + [
        date(2024, m, 1) for m in range(1, 7)
    ]
    assert [r["horizon_months"] for r in rows] == list(range(1, 13))
    # The rest of 2023 plus what 2023 collected is the yearly forecast of 2023, to the peso.
    rest = sum(r["forecast"] for r in rows if r["month"].year == 2023)
    year = rows[0]["year_forecast"]
    assert rows[0]["year_collected_to_date"] + rest == pytest.approx(year, rel=1e-12)
    assert year == pytest.approx(model_forecast(s, 2023, infl).forecast)
    # December weighs what the recent years gave it (8 years of shares, 3 of them shifted).
    shares = seasonal_shares(s)
    assert shares[11] == pytest.approx((5 * SHAPE[11] + 3 * 0.3) / 8)
    december = next(r for r in rows if r["month"] == date(2023, 12, 1))
    assert december["forecast"] > 2 * next(r for r in rows if r["month"] == date(2023, 11, 1))[
        "forecast"
    ]
    # Intervals come with enough past errors, nested around the forecast.
    for r in rows:
        assert r["lower_95"] <= r["lower_80"] <= r["forecast"] <= r["upper_80"] <= r["upper_95"]


def test_the_monthly_mart_on_the_demo(wh) -> None:
    rows = wh.execute(
        "select month, horizon_months, forecast, lower_80, upper_80, lower_95, upper_95, "
        "year_forecast, year_collected_to_date from marts.revenue_forecast_monthly order by month"
    ).fetchall()
    as_of = wh.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    assert len(rows) == 12 and [r[1] for r in rows] == list(range(1, 13))
    assert rows[0][0] > as_of.replace(day=1) or rows[0][0].month == (as_of.month % 12) + 1
    yearly = dict(
        wh.execute(
            "select target_year, forecast from marts.revenue_forecast "
            "where kind = 'forecast' and method = 'model'"
        ).fetchall()
    )
    first_year = rows[0][0].year
    rest = sum(r[2] for r in rows if r[0].year == first_year)
    assert rows[0][8] + rest == pytest.approx(yearly[first_year], rel=1e-9)
    for r in rows:
        assert r[7] == pytest.approx(yearly[r[0].year])
        if r[3] is not None:
            assert r[5] <= r[3] <= r[2] <= r[4] <= r[6]
