"""Forecast backtests on Rionegro's real monthly ICA collection 2001-2020 (issue 17 targets).

Yearly: 12 months ahead from each December, target years 2004-2020. Monthly: 1-12 months ahead
from every month end of 2010-2019. Methods: the model, seasonal-naive, naive (yearly) and ETS
(M,Ad,M) from statsmodels. CPI: the shipped reference completed by DANE's monthly index 1988-2018
(read from shared/, beside the clone). Writes benchmarks/forecast_results.json.

    .venv/bin/python benchmarks/forecast.py
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from fiscal_intel.leadership.backtest import read_inflation, read_series, run_backtests

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
if not SHARED.is_dir():  # a worktree under /work/wt/NAME: shared/ is two levels up
    SHARED = ROOT.parent.parent / "shared"
SERIES = SHARED / "real" / "rionegro_ica_payments_monthly_2001_2020.csv"
CPI = SHARED / "reference" / "dane_cpi_index_1988_2018.csv"


def main() -> None:
    start = time.perf_counter()
    result = run_backtests(
        read_series(SERIES),
        read_inflation(CPI),
        first_year=2004,
        last_year=2020,
        first_origin=date(2010, 1, 1),
        last_origin=date(2019, 12, 1),
    )
    out = {
        "series": SERIES.name,
        "yearly_targets": "2004-2020, from the December before",
        "monthly_origins": "2010-01 .. 2019-12, horizons 1-12",
        "seconds": round(time.perf_counter() - start, 1),
        **result,
    }
    path = ROOT / "benchmarks" / "forecast_results.json"
    path.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: {m: {a: b for a, b in v.items() if a != "by_horizon"}
                          for m, v in out[k].items()} for k in ("yearly", "monthly")}, indent=1))


if __name__ == "__main__":
    main()
