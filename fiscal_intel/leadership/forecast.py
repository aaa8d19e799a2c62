"""Next-year ICA collection with an interval, from the monthly collection series.

Why this model: ICA collected in calendar year Y mostly pays the returns of tax year Y-1, whose
base is the income of Y-1, so the nominal growth of a year's collection is real growth plus the
inflation of the year before, which DANE has published by the time the forecast is made. The
model therefore carries the last complete year forward by the mean *real* growth of past years
plus that known inflation (a random walk with drift in constant pesos), and, once part of the
target year has been collected, combines this with the year-to-date collection divided by the
share of the year that past years had collected by the same month (the April deadline makes that
share stable). The two are weighted by the inverse of their variances on the log scale.

The naive benchmark is what a spreadsheet would do: last complete year × its growth on the year
before. Both are backtested from past origins (the December before the target year, and the same
month of the year as the current as-of date), so the mart reports the errors of both.

The model is pure numpy; ``revenue_forecast_frame`` reads its inputs from the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

# Student's t 97.5 % quantiles by degrees of freedom: the intervals rest on a handful of years.
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042,
}  # fmt: skip


def t975(df: int) -> float:
    """Two-sided 95 % Student's t quantile (normal beyond 30 degrees of freedom)."""
    if df < 1:
        raise ValueError("need at least one degree of freedom")
    if df > 30:
        return 1.96
    return _T975.get(df) or _T975[max(k for k in _T975 if k <= df)]


@dataclass(frozen=True)
class MonthlySeries:
    """Collection per calendar month, consecutive, from ``start`` (a first-of-month date)."""

    start: date
    values: np.ndarray

    def index(self, year: int, month: int) -> int:
        return (year - self.start.year) * 12 + month - self.start.month

    def month(self, i: int) -> tuple[int, int]:
        y, m = divmod(self.start.year * 12 + self.start.month - 1 + i, 12)
        return y, m + 1

    def upto(self, origin: int) -> MonthlySeries:
        """The series as known at the end of month ``origin`` (an index, inclusive)."""
        return MonthlySeries(self.start, self.values[: origin + 1])

    def complete_years(self) -> dict[int, float]:
        """Totals of the calendar years whose twelve months are all in the series."""
        out = {}
        first = self.start.year + (self.start.month > 1)
        for year in range(first, self.month(len(self.values) - 1)[0] + 1):
            lo, hi = self.index(year, 1), self.index(year, 12)
            if lo >= 0 and hi < len(self.values):
                out[year] = float(self.values[lo : hi + 1].sum())
        return out


@dataclass(frozen=True)
class Forecast:
    target_year: int
    method: str  # "model" or "naive"
    forecast: float | None
    lower: float | None
    upper: float | None
    growth_obs: int
    inflation_assumed: float | None  # percent, the last inflation the forecast used


def _inflation(year: int, inflation: Mapping[int, float]) -> tuple[float, bool]:
    """Dec-on-Dec inflation (percent) of ``year``; beyond the table, the last one (assumed)."""
    if year in inflation:
        return inflation[year], False
    known = [y for y in inflation if y < year]
    if not known:
        raise ValueError(f"no CPI inflation for {year} or any year before it")
    return inflation[max(known)], True


def real_growth(annual: Mapping[int, float], inflation: Mapping[int, float]) -> list[float]:
    """Log real growth of each complete year on the one before, deflated by the earlier year's
    inflation (the income year behind most of the later year's collection)."""
    out = []
    for year in sorted(annual):
        prev = annual.get(year - 1)
        if prev and annual[year] > 0 and (year - 1) in inflation:
            out.append(math.log(annual[year] / prev) - math.log1p(inflation[year - 1] / 100))
    return out


def _year_to_date(
    series: MonthlySeries, annual: Mapping[int, float], year: int, months: int
) -> tuple[float, float, int] | None:
    """Log estimate of ``year``'s total from its first ``months`` months and the share past
    complete years had collected by then, with its variance and degrees of freedom."""

    def collected(y: int) -> float:
        return float(series.values[series.index(y, 1) : series.index(y, months) + 1].sum())

    shares = [collected(y) / total for y, total in annual.items() if total > 0]
    ytd = collected(year)
    if ytd <= 0 or len(shares) < 2 or min(shares) <= 0:
        return None
    log_shares = np.log(shares)
    var = float(np.var(log_shares, ddof=1)) * (1 + 1 / len(shares))
    return math.log(ytd) - float(log_shares.mean()), var, len(shares) - 1


def model_forecast(
    series: MonthlySeries, target_year: int, inflation: Mapping[int, float]
) -> Forecast:
    """The model's forecast of ``target_year``'s total from everything in ``series``."""
    annual = series.complete_years()
    if not annual:
        return Forecast(target_year, "model", None, None, None, 0, None)
    last = max(annual)
    if target_year <= last:
        raise ValueError(f"{target_year} is already complete in the series")
    growth = real_growth(annual, inflation)
    n = len(growth)
    if n == 0:
        return Forecast(target_year, "model", None, None, None, 0, None)
    mu = float(np.mean(growth))
    # One growth observation gives a point forecast but no honest interval.
    step_var = float(np.var(growth, ddof=1)) * (1 + 1 / n) if n >= 2 else math.nan

    # Drift from the last complete year to the year after it.
    pi, _ = _inflation(last, inflation)
    log_f = math.log(annual[last]) + mu + math.log1p(pi / 100)
    var = step_var
    df = n - 1
    year = last + 1

    # The year in progress: combine with its year-to-date collection and the usual seasonal share.
    known_months = len(series.values) - series.index(year, 1)
    if 0 < known_months < 12:
        ytd_estimate = _year_to_date(series, annual, year, known_months)
        if ytd_estimate is not None:
            log_ytd, var_ytd, df_ytd = ytd_estimate
            if math.isnan(var):
                log_f, var, df = log_ytd, var_ytd, df_ytd
            else:
                # Inverse-variance weights; two exact estimates (no variance) count equally.
                w = var_ytd / (var + var_ytd) if var + var_ytd > 0 else 0.5
                log_f = w * log_f + (1 - w) * log_ytd
                var = var * var_ytd / (var + var_ytd) if var + var_ytd > 0 else 0.0
                df = min(df, df_ytd)  # the wider t of the two: few years behind either

    # Further years: the same drift, with the latest inflation carried as the expected one.
    while year < target_year:
        pi, _ = _inflation(year, inflation)
        log_f += mu + math.log1p(pi / 100)
        var += step_var
        year += 1

    point = math.exp(log_f)
    if math.isnan(var) or df < 1:
        return Forecast(target_year, "model", point, None, None, n, pi)
    half = t975(df) * math.sqrt(var)
    lower, upper = math.exp(log_f - half), math.exp(log_f + half)
    return Forecast(target_year, "model", point, lower, upper, n, pi)


def naive_forecast(series: MonthlySeries, target_year: int) -> Forecast:
    """Last complete year × its growth on the year before, compounded up to ``target_year``."""
    annual = series.complete_years()
    if len(annual) < 2:
        return Forecast(target_year, "naive", None, None, None, 0, None)
    last = max(annual)
    if not annual.get(last - 1):
        return Forecast(target_year, "naive", None, None, None, 0, None)
    growth = annual[last] / annual[last - 1]
    return Forecast(
        target_year, "naive", annual[last] * growth ** (target_year - last), None, None, 1, None
    )


def forecast_rows(
    series: MonthlySeries, inflation: Mapping[int, float]
) -> list[dict[str, object]]:
    """Rows of ``marts.revenue_forecast``: actual complete years, the forecasts from the last
    month of ``series``, and backtests of both methods from every past origin that allows one."""
    rows: list[dict[str, object]] = []
    annual = series.complete_years()
    last_index = len(series.values) - 1
    last_year, last_month = series.month(last_index)

    def origin_date(index: int) -> date:
        y, m = series.month(index)
        return date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)  # last day of the month

    def add(kind: str, f: Forecast, origin: int, actual: float | None) -> None:
        y0, _ = series.month(origin)
        ytd = 0.0
        if y0 == f.target_year:
            ytd = float(series.values[series.index(f.target_year, 1) : origin + 1].sum())
        rows.append(
            {
                "target_year": f.target_year,
                "kind": kind,
                "method": f.method,
                "origin": origin_date(origin),
                "horizon_months": series.index(f.target_year, 12) - origin,
                "forecast": f.forecast,
                "lower_95": f.lower,
                "upper_95": f.upper,
                "actual": actual,
                "error_pct": (f.forecast / actual - 1)
                if f.forecast is not None and actual
                else None,
                "collected_to_date": ytd,
                "growth_obs": f.growth_obs,
                "inflation_assumed": f.inflation_assumed,
            }
        )

    for year, total in sorted(annual.items()):
        rows.append(
            {
                "target_year": year, "kind": "actual", "method": None,
                "origin": date(year, 12, 31), "horizon_months": 0, "forecast": None,
                "lower_95": None, "upper_95": None, "actual": total, "error_pct": None,
                "collected_to_date": total, "growth_obs": None, "inflation_assumed": None,
            }
        )  # fmt: skip

    # Backtests: each complete year whose naive forecast exists, from the December before it
    # and, when the data end mid-year, from the same month of the target year.
    for year in sorted(annual):
        if not (annual.get(year - 1) and annual.get(year - 2)):
            continue
        origins = [series.index(year - 1, 12)]
        if last_month != 12:
            origins.append(series.index(year, last_month))
        for origin in origins:
            known = series.upto(origin)
            add("backtest", model_forecast(known, year, inflation), origin, annual[year])
            add("backtest", naive_forecast(known, year), origin, annual[year])

    # Forecasts from the last month: the year in progress (if any) and the year after it.
    targets = [last_year + 1] if last_month == 12 else [last_year, last_year + 1]
    for year in targets:
        add("forecast", model_forecast(series, year, inflation), last_index, None)
        add("forecast", naive_forecast(series, year), last_index, None)
    return rows


def backtest_errors(rows: list[dict[str, object]]) -> dict[tuple[str, int], dict[str, float]]:
    """Mean absolute percentage error per (method, horizon in months) over the backtests."""
    out: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r["kind"] == "backtest" and r["error_pct"] is not None:
            out.setdefault((str(r["method"]), int(r["horizon_months"])), []).append(
                abs(float(r["error_pct"]))
            )
    return {k: {"mape": float(np.mean(v)), "n": len(v)} for k, v in sorted(out.items())}


FORECAST_SCHEMA = {
    "target_year": pl.Int32,
    "kind": pl.Utf8,
    "method": pl.Utf8,
    "origin": pl.Date,
    "horizon_months": pl.Int32,
    "forecast": pl.Float64,
    "lower_95": pl.Float64,
    "upper_95": pl.Float64,
    "actual": pl.Float64,
    "actual_real": pl.Float64,
    "error_pct": pl.Float64,
    "collected_to_date": pl.Float64,
    "payers": pl.Int32,
    "growth_obs": pl.Int32,
    "inflation_assumed": pl.Float64,
}


def _warehouse_series(
    con: duckdb.DuckDBPyConnection, min_cell_taxpayers: int, dominance_p_percent: float
) -> tuple[MonthlySeries, dict[int, float], dict[int, float], dict[int, int]] | None:
    """The monthly series of every complete month up to the as-of date, the CPI inflation and
    index per year, and the payers per year; None when secrecy hides the series."""
    months = con.execute(
        """
        select cast(date_trunc('month', p.paid_on) as date) as month, sum(p.amount)::double
        from staging.stg_payments as p, staging.as_of_date as a
        where p.paid_on <= a.as_of
        group by all order by month
        """
    ).fetchall()
    as_of = con.execute("select as_of from staging.as_of_date").fetchall()[0][0]
    payers = dict(
        con.execute(
            """
            select year(p.paid_on), count(distinct p.nit)
            from staging.stg_payments as p, staging.as_of_date as a
            where p.paid_on <= a.as_of group by all
            """
        ).fetchall()
    )
    # A year's total must itself be safe: enough payers and none dominant (p % rule).
    # revenue_monthly makes sure that such a total minus the year's published months gives a
    # safe share of its pool of months, hiding further months of the year when needed.
    (unsafe_years,) = con.execute(
        """
        select count(*) from (
            select count(*) as payers, sum(amount) as collected,
                list(amount order by amount desc)[1:2] as top
            from (
                select year(paid_on) as year, nit, sum(amount) as amount
                from staging.stg_payments group by all
            ) group by year
        )
        where payers < $k or fi_dominated(collected, top[1], top[2], $p)
        """,
        {"k": min_cell_taxpayers, "p": dominance_p_percent},
    ).fetchall()[0]
    cpi = con.execute("select year, inflation_dec_pct, cpi_dec from ref.cpi_deflator").fetchall()
    # Forecasts are functions of every year's total: one year that cannot be shown hides them all.
    if not months or unsafe_years or sum(payers.values()) < min_cell_taxpayers:
        return None

    # Complete months only: the as-of month counts when the as-of date is its last day.
    last = date(as_of.year, as_of.month, 1)
    if (as_of + timedelta(days=1)).month == as_of.month:
        last = date(last.year - (last.month == 1), (last.month - 2) % 12 + 1, 1)
    start = months[0][0]
    n = (last.year - start.year) * 12 + last.month - start.month + 1
    if n < 1:
        return None
    values = np.zeros(n)
    for month, amount in months:
        i = (month.year - start.year) * 12 + month.month - start.month
        if 0 <= i < n:
            values[i] = amount
    inflation = {int(y): float(p) for y, p, _ in cpi}
    index = {int(y): float(c) for y, _, c in cpi}
    return MonthlySeries(start, values), inflation, index, payers


def revenue_forecast_frame(
    con: duckdb.DuckDBPyConnection, min_cell_taxpayers: int, dominance_p_percent: float = 10.0
) -> pl.DataFrame:
    """``marts.revenue_forecast`` from the warehouse: the monthly series of every complete month
    up to the as-of date and the CPI, under the secrecy rule (a year paid by fewer than
    ``min_cell_taxpayers`` taxpayers shows no actual; a series where some year cannot be shown
    shows nothing)."""
    found = _warehouse_series(con, min_cell_taxpayers, dominance_p_percent)
    if found is None:
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    series, inflation, index, payers = found
    base = max(index) if index else None
    rows = forecast_rows(series, inflation)
    for r in rows:
        year = int(r["target_year"])
        r["payers"] = payers.get(year) if r["actual"] is not None else None
        r["actual_real"] = None
        if r["kind"] == "actual":
            r["inflation_assumed"] = inflation.get(year)
            if year in index and base is not None:
                r["actual_real"] = float(r["actual"]) * index[base] / index[year]
        if payers.get(year, 0) < min_cell_taxpayers and r["actual"] is not None:
            r["actual"] = r["actual_real"] = r["error_pct"] = None
    return pl.DataFrame(rows, schema=FORECAST_SCHEMA)


# --- Monthly forecast -------------------------------------------------------------------------
#
# Why this model: the yearly model above is good (it knows inflation and, within a year, the
# year-to-date collection), and the treasury's monthly cash plan must add up to the yearly figure
# leadership already reads. So each month's forecast is its year's forecast (the part not yet
# collected, for the year in progress) spread over the months by the share each month carried in
# the last SHARE_YEARS complete years: recent years only, because calendars move (Rionegro's
# December went from ~10 % to 25-39 % of the year in 2018). The months of a target year add up to
# the yearly forecast exactly. Intervals are empirical: the quantiles of the model's own past
# errors (log actual / forecast) at the same horizon, from origins whose outcome was known at the
# time, as a forecaster who kept score would set them; without enough past errors, none.

SHARE_YEARS = 8
ERROR_YEARS = 2
MIN_PAST_ERRORS = 12


@dataclass(frozen=True)
class MonthForecast:
    origin: int  # index of the last month known
    horizon: int  # 1..12 months after the origin
    target: int  # index of the month forecast
    forecast: float


def seasonal_shares(series: MonthlySeries, years: int | None = None) -> np.ndarray | None:
    """Share of each calendar month (Jan..Dec) in its year, averaged over the last ``years``
    complete years; None without a complete year."""
    annual = series.complete_years()
    recent = sorted(y for y, t in annual.items() if t > 0)[-(years or SHARE_YEARS) :]
    if not recent:
        return None
    shares = np.zeros(12)
    for y in recent:
        lo = series.index(y, 1)
        shares += series.values[lo : lo + 12] / annual[y]
    shares = np.clip(shares / len(recent), 0, None)
    return shares / shares.sum()


def monthly_points(
    series: MonthlySeries, inflation: Mapping[int, float], horizon: int = 12
) -> list[MonthForecast]:
    """The model's forecasts of the ``horizon`` months after the end of ``series``."""
    origin = len(series.values) - 1
    shares = seasonal_shares(series)
    if shares is None:
        return []
    year, month = series.month(origin)
    out: list[MonthForecast] = []
    yearly: dict[int, float | None] = {}
    for h in range(1, horizon + 1):
        ty, tm = series.month(origin + h)
        if ty not in yearly:
            yearly[ty] = model_forecast(series, ty, inflation).forecast
        total = yearly[ty]
        if total is None:
            continue
        if ty == year:  # the year in progress: what is left of it, spread over its last months
            ytd = float(series.values[series.index(ty, 1) : origin + 1].sum())
            rest = shares[month:].sum()
            value = max(total - ytd, 0.0) * (shares[tm - 1] / rest if rest > 0 else 0.0)
        else:
            value = total * shares[tm - 1]
        out.append(MonthForecast(origin, h, origin + h, value))
    return out


def seasonal_naive_points(series: MonthlySeries, horizon: int = 12) -> list[MonthForecast]:
    """Each month as the same month a year before (the last one observed)."""
    origin = len(series.values) - 1
    out = []
    for h in range(1, horizon + 1):
        back = origin + h - 12 * math.ceil(h / 12)
        if back >= 0:
            out.append(MonthForecast(origin, h, origin + h, float(series.values[back])))
    return out


def empirical_interval(
    errors: list[float], forecast: float, level: float
) -> tuple[float, float] | None:
    """Interval from past log errors (log actual - log forecast): the ``level`` quantile of
    their size on either side of the forecast (symmetric on the log scale: with a few years of
    errors, their sign is noise, and two one-sided quantiles of a small sample each fall short);
    None with fewer than MIN_PAST_ERRORS."""
    if len(errors) < MIN_PAST_ERRORS or forecast <= 0:
        return None
    width = float(np.quantile(np.abs(errors), level))
    return forecast * math.exp(-width), forecast * math.exp(width)


def monthly_model_backtest(
    series: MonthlySeries, inflation: Mapping[int, float], first_origin: int = 0
) -> list[dict[str, object]]:
    """The model from every origin (month end) from ``first_origin`` on: its forecasts of the
    next 12 months, 80 % and 95 % intervals from the errors known at each origin, and the
    actual when the series has it. Origins before ``first_origin`` still feed the errors."""
    points: list[MonthForecast] = []
    for origin in range(12, len(series.values)):
        points.extend(monthly_points(series.upto(origin), inflation))
    values = series.values
    errors: dict[int, list[float]] = {}  # target month -> log errors of its past forecasts
    for q in points:
        if q.target < len(values) and q.forecast > 0 and values[q.target] > 0:
            errors.setdefault(q.target, []).append(math.log(values[q.target] / q.forecast))
    rows = []
    for p in points:
        if p.origin < first_origin:
            continue
        # The errors known at the origin: forecasts of the last ERROR_YEARS years' months.
        known = [
            e for t in range(max(p.origin - 12 * ERROR_YEARS + 1, 0), p.origin + 1)
            for e in errors.get(t, ())
        ]  # fmt: skip
        i80 = empirical_interval(known, p.forecast, 0.80)
        i95 = empirical_interval(known, p.forecast, 0.95)
        rows.append(
            {
                "origin": p.origin, "horizon": p.horizon, "target": p.target,
                "forecast": p.forecast,
                "lower_80": i80[0] if i80 else None, "upper_80": i80[1] if i80 else None,
                "lower_95": i95[0] if i95 else None, "upper_95": i95[1] if i95 else None,
                "actual": float(values[p.target]) if p.target < len(values) else None,
            }
        )  # fmt: skip
    return rows


MONTHLY_SCHEMA = {
    "month": pl.Date,
    "origin": pl.Date,
    "horizon_months": pl.Int32,
    "forecast": pl.Float64,
    "lower_80": pl.Float64,
    "upper_80": pl.Float64,
    "lower_95": pl.Float64,
    "upper_95": pl.Float64,
    "year_forecast": pl.Float64,
    "year_collected_to_date": pl.Float64,
}


def monthly_forecast_rows(
    series: MonthlySeries, inflation: Mapping[int, float]
) -> list[dict[str, object]]:
    """Rows of ``marts.revenue_forecast_monthly``: the 12 months after the end of ``series`` with
    their intervals, and the yearly forecast each month belongs to (the months of a year, with
    what that year has already collected, add up to it)."""
    origin = len(series.values) - 1
    rows = monthly_model_backtest(series, inflation, first_origin=origin)
    year, _ = series.month(origin)
    out = []
    for r in rows:
        if r["origin"] != origin:
            continue
        ty, tm = series.month(int(r["target"]))
        oy, om = series.month(origin)
        ytd = float(series.values[series.index(ty, 1) : origin + 1].sum()) if ty == year else 0.0
        out.append(
            {
                "month": date(ty, tm, 1), "origin": date(oy + om // 12, om % 12 + 1, 1)
                - timedelta(days=1), "horizon_months": r["horizon"], "forecast": r["forecast"],
                "lower_80": r["lower_80"], "upper_80": r["upper_80"],
                "lower_95": r["lower_95"], "upper_95": r["upper_95"],
                "year_forecast": model_forecast(series, ty, inflation).forecast,
                "year_collected_to_date": ytd,
            }
        )  # fmt: skip
    return out


def revenue_forecast_monthly_frame(
    con: duckdb.DuckDBPyConnection, min_cell_taxpayers: int, dominance_p_percent: float = 10.0
) -> pl.DataFrame:
    """``marts.revenue_forecast_monthly`` from the warehouse, under the same secrecy rule as
    ``revenue_forecast`` (a series where some year cannot be shown gives no forecast)."""
    found = _warehouse_series(con, min_cell_taxpayers, dominance_p_percent)
    if found is None:
        return pl.DataFrame(schema=MONTHLY_SCHEMA)
    series, inflation, _, _ = found
    return pl.DataFrame(monthly_forecast_rows(series, inflation), schema=MONTHLY_SCHEMA)
