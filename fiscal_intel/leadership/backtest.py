"""Backtests of the yearly and monthly forecasts on any monthly collection series (a CSV of
month and amount), against the baselines a treasury would otherwise use: ``fiscal-intel
forecast-backtest``.

Yearly (12 months ahead, from each December): the model (``model_forecast``), ``naive`` (last
year × its growth), ``seasonal_naive`` (last year again) and ``ets`` (the sum of the ETS model's
12 monthly forecasts). Monthly (1-12 months ahead, from every month end): the model
(``monthly_points``), ``seasonal_naive`` (the same month a year before) and ``ets``
(statsmodels' ETSModel with multiplicative errors, damped additive trend and multiplicative
seasonality, ETS(M,Ad,M), refitted at each origin; its intervals are simulated with a fixed seed).

Metrics: MAPE; MASE, the mean absolute error scaled by the in-sample mean absolute error of the
seasonal-naive forecast up to each origin (Hyndman & Koehler 2006); ``rel_mae``, the method's mean
absolute error over the seasonal-naive one on the same forecasts; coverage of the 80 % and 95 %
intervals (over the forecasts that have one); n.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

import fiscal_intel
from fiscal_intel.leadership.forecast import (
    MonthlySeries,
    forecast_rows,
    monthly_model_backtest,
    seasonal_naive_points,
)

CPI_REFERENCE = Path(fiscal_intel.__file__).resolve().parent / "reference" / "cpi_deflator.csv"


def _month(text: str, where: str) -> date:
    t = text.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m", "%d/%m/%Y", "%Y/%m/%d", "%Y%m"):
        try:
            from datetime import datetime

            d = datetime.strptime(t, fmt).date()
            return date(d.year, d.month, 1)
        except ValueError:
            continue
    raise ValueError(f"{where}: cannot read {text!r} as a month")


def _amount(text: str, where: str) -> float:
    t = text.strip().replace(" ", "")
    if "," in t and "." in t:  # 1.234.567,89 or 1,234,567.89: the last mark is the decimal one
        t = (
            t.replace(".", "").replace(",", ".")
            if t.rfind(",") > t.rfind(".")
            else t.replace(",", "")
        )
    elif "," in t:
        t = t.replace(",", ".")
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"{where}: cannot read {text!r} as an amount") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: amount {text!r} is not a finite non-negative number")
    return value


def read_series(
    path: Path, month_column: str | None = None, amount_column: str | None = None
) -> MonthlySeries:
    """A monthly series from a CSV: one row per month (any order, no month missing or twice).
    Without column names: the first column whose name says month (``month``, ``mes``, ``fecha``)
    or else the first column, and the first other column for the amount."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"series {path} does not exist")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.DictReader(fh, delimiter=delimiter)
        names = [n.strip() for n in reader.fieldnames or []]
        reader.fieldnames = names
        if len(names) < 2:
            raise ValueError(f"{path.name}: needs a month column and an amount column")
        mcol = month_column or next(
            (n for n in names if n.lower() in {"month", "mes", "fecha", "periodo"}), names[0]
        )
        acol = amount_column or next(n for n in names if n != mcol)
        for col in (mcol, acol):
            if col not in names:
                raise ValueError(f"{path.name}: no column {col!r} (has {', '.join(names)})")
        seen: dict[date, float] = {}
        for i, row in enumerate(reader, start=2):
            where = f"{path.name} line {i}"
            m = _month(row[mcol] or "", where)
            if m in seen:
                raise ValueError(f"{where}: month {m:%Y-%m} appears twice")
            seen[m] = _amount(row[acol] or "", where)
    if not seen:
        raise ValueError(f"{path.name}: no rows")
    start, end = min(seen), max(seen)
    n = (end.year - start.year) * 12 + end.month - start.month + 1
    values = np.zeros(n)
    for m, v in seen.items():
        values[(m.year - start.year) * 12 + m.month - start.month] = v
    if len(seen) != n:
        missing = next(
            date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
            for i in range(n)
            if date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
            not in seen
        )
        raise ValueError(f"{path.name}: month {missing:%Y-%m} is missing")
    return MonthlySeries(start, values)


def read_inflation(extra: Path | None = None) -> dict[int, float]:
    """December-on-December CPI inflation (percent) per year: the shipped reference, completed
    (and overridden) by ``extra``, either ``year,inflation_dec_pct`` or DANE's monthly index
    ``when,deflator`` (``YYYY-MM``)."""
    out: dict[int, float] = {}
    with CPI_REFERENCE.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[int(r["year"])] = float(r["inflation_dec_pct"])
    if extra is None:
        return out
    extra = Path(extra)
    if not extra.is_file():
        raise FileNotFoundError(f"CPI file {extra} does not exist")
    with extra.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "inflation_dec_pct" in rows[0]:
        out.update({int(r["year"]): float(r["inflation_dec_pct"]) for r in rows})
    elif rows and {"when", "deflator"} <= set(rows[0]):
        december = {
            int(r["when"][:4]): float(r["deflator"]) for r in rows if r["when"][5:7] == "12"
        }
        out.update(
            {y: (v / december[y - 1] - 1) * 100 for y, v in december.items() if y - 1 in december}
        )
    else:
        raise ValueError(f"{extra.name}: needs columns year,inflation_dec_pct or when,deflator")
    return out


def ets_points(series: MonthlySeries, horizon: int = 12) -> list[dict[str, float]]:
    """ETS(M,Ad,M) fitted on ``series``: the next ``horizon`` months with 80 % and 95 %
    intervals (simulated, seed 0). Empty when the series is too short or not positive."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    values = series.values
    if len(values) < 36 or (values <= 0).any():
        return []
    index = pd.period_range(f"{series.start:%Y-%m}", periods=len(values), freq="M")
    y = pd.Series(values, index=index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ETSModel(
            y, error="mul", trend="add", damped_trend=True, seasonal="mul", seasonal_periods=12
        ).fit(disp=False, maxiter=200)
        np.random.seed(0)  # the simulated intervals: same input, same output
        pred = fit.get_prediction(
            start=len(values), end=len(values) + horizon - 1, simulate_repetitions=500
        )
        f80 = pred.summary_frame(alpha=0.20)
        f95 = pred.summary_frame(alpha=0.05)
    return [
        {
            "forecast": float(f80["mean"].iloc[h]),
            "lower_80": float(f80["pi_lower"].iloc[h]), "upper_80": float(f80["pi_upper"].iloc[h]),
            "lower_95": float(f95["pi_lower"].iloc[h]), "upper_95": float(f95["pi_upper"].iloc[h]),
        }
        for h in range(horizon)
    ]  # fmt: skip


def _seasonal_scale(values: np.ndarray, origin: int) -> float:
    diffs = np.abs(values[12 : origin + 1] - values[: origin + 1 - 12])
    return float(diffs.mean()) if len(diffs) else math.nan


def monthly_backtest(
    series: MonthlySeries,
    inflation: Mapping[int, float],
    first_origin: int | None = None,
    last_origin: int | None = None,
    ets: bool = True,
) -> list[dict[str, Any]]:
    """One row per method, origin and horizon whose actual is known, from the origins (indices
    of month ends) between ``first_origin`` and ``last_origin``."""
    values = series.values
    last = len(values) - 2 if last_origin is None else min(last_origin, len(values) - 2)
    first = 24 if first_origin is None else max(first_origin, 24)
    rows: list[dict[str, Any]] = []
    for r in monthly_model_backtest(series, inflation, first):
        if r["origin"] <= last and r["actual"] is not None:
            rows.append({"method": "model", **r})
    for origin in range(first, last + 1):
        known = series.upto(origin)
        # The seasonal-naive interval (Hyndman's fpp): residual sd of the seasonal differences.
        diffs = values[12 : origin + 1] - values[: origin + 1 - 12]
        sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else math.nan
        for p in seasonal_naive_points(known):
            if p.target < len(values):
                rows.append(
                    {
                        "method": "seasonal_naive", "origin": origin, "horizon": p.horizon,
                        "target": p.target, "forecast": p.forecast,
                        "lower_80": p.forecast - 1.2816 * sd, "upper_80": p.forecast + 1.2816 * sd,
                        "lower_95": p.forecast - 1.96 * sd, "upper_95": p.forecast + 1.96 * sd,
                        "actual": float(values[p.target]),
                    }
                )  # fmt: skip
        if ets:
            for h, e in enumerate(ets_points(known), start=1):
                if origin + h < len(values):
                    rows.append(
                        {"method": "ets", "origin": origin, "horizon": h, "target": origin + h,
                         **e, "actual": float(values[origin + h])}
                    )  # fmt: skip
    for r in rows:
        r["scale"] = _seasonal_scale(values, r["origin"])
    return rows


def monthly_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: metrics over every horizon, and per horizon under ``by_horizon``."""
    naive = {
        (r["origin"], r["target"]): abs(r["forecast"] - r["actual"])
        for r in rows
        if r["method"] == "seasonal_naive"
    }

    def summary(group: list[dict[str, Any]]) -> dict[str, Any]:
        ape = [abs(r["forecast"] / r["actual"] - 1) for r in group if r["actual"] > 0]
        ase = [abs(r["forecast"] - r["actual"]) / r["scale"] for r in group if r["scale"] > 0]
        ae = [
            abs(r["forecast"] - r["actual"]) for r in group if (r["origin"], r["target"]) in naive
        ]
        ae_naive = [
            naive[(r["origin"], r["target"])] for r in group if (r["origin"], r["target"]) in naive
        ]
        c80 = [
            r["lower_80"] <= r["actual"] <= r["upper_80"]
            for r in group
            if r["lower_80"] is not None
        ]
        c95 = [
            r["lower_95"] <= r["actual"] <= r["upper_95"]
            for r in group
            if r["lower_95"] is not None
        ]
        return {
            "mape": float(np.mean(ape)) if ape else None,
            "mase": float(np.mean(ase)) if ase else None,
            "rel_mae": float(np.sum(ae) / np.sum(ae_naive)) if ae and np.sum(ae_naive) else None,
            "coverage80": float(np.mean(c80)) if c80 else None,
            "coverage95": float(np.mean(c95)) if c95 else None,
            "n": len(group),
        }  # fmt: skip

    out: dict[str, dict[str, Any]] = {}
    for method in sorted({r["method"] for r in rows}, key=_method_order):
        group = [r for r in rows if r["method"] == method]
        out[method] = summary(group) | {
            "by_horizon": {
                h: summary([r for r in group if r["horizon"] == h])
                for h in sorted({r["horizon"] for r in group})
            }
        }
    return out


def _method_order(method: str) -> tuple[int, str]:
    return (0 if method == "model" else 1, method)


def yearly_backtest(
    series: MonthlySeries,
    inflation: Mapping[int, float],
    first_year: int | None = None,
    last_year: int | None = None,
    ets: bool = True,
) -> list[dict[str, Any]]:
    """One row per method and complete target year, forecast from the December before."""
    annual = series.complete_years()
    rows: list[dict[str, Any]] = []
    for r in forecast_rows(series, inflation):
        year = int(r["target_year"])
        if (
            r["kind"] == "backtest" and r["horizon_months"] == 12 and r["forecast"] is not None
            and (first_year is None or year >= first_year)
            and (last_year is None or year <= last_year)
        ):  # fmt: skip
            rows.append(
                {"method": r["method"], "target_year": year, "forecast": r["forecast"],
                 "lower_95": r["lower_95"], "upper_95": r["upper_95"], "actual": annual[year]}
            )  # fmt: skip
    years = sorted({r["target_year"] for r in rows})
    for year in years:
        if annual.get(year - 1):
            rows.append(
                {"method": "seasonal_naive", "target_year": year, "forecast": annual[year - 1],
                 "lower_95": None, "upper_95": None, "actual": annual[year]}
            )  # fmt: skip
        if ets:
            points = ets_points(series.upto(series.index(year - 1, 12)))
            if points:
                rows.append(
                    {"method": "ets", "target_year": year,
                     "forecast": sum(p["forecast"] for p in points),
                     "lower_95": None, "upper_95": None, "actual": annual[year]}
                )  # fmt: skip
    return rows


def yearly_metrics(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for method in sorted({r["method"] for r in rows}, key=_method_order):
        group = [r for r in rows if r["method"] == method]
        ape = [abs(r["forecast"] / r["actual"] - 1) for r in group]
        cover = [r["lower_95"] <= r["actual"] <= r["upper_95"] for r in group if r["lower_95"]]
        out[method] = {
            "mape": float(np.mean(ape)) if ape else None,
            "median_ape": float(np.median(ape)) if ape else None,
            "coverage95": float(np.mean(cover)) if cover else None,
            "n": len(group),
        }
    return out


def run_backtests(
    series: MonthlySeries,
    inflation: Mapping[int, float],
    *,
    first_year: int | None = None,
    last_year: int | None = None,
    first_origin: date | None = None,
    last_origin: date | None = None,
    ets: bool = True,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Both backtests' metrics: ``{"yearly": {method: ...}, "monthly": {method: ...}}``."""

    def at(d: date | None) -> int | None:
        return None if d is None else series.index(d.year, d.month)

    yearly = yearly_metrics(yearly_backtest(series, inflation, first_year, last_year, ets))
    monthly = monthly_metrics(
        monthly_backtest(series, inflation, at(first_origin), at(last_origin), ets)
    )
    return {"yearly": yearly, "monthly": monthly}
