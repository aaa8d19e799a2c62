"""What cases in progress do to the lists (issue #14): compare a run without them (A) with a run
on the same landing plus the open cases (B).

Reports how many cases are in progress in B, how many of them were in the top 100 of each list
in A, that none is in B's lists, that every other case keeps its score, order and model version
(the ranks close up over the gaps), and the statute days left of the open cases.

Usage: .venv/bin/python benchmarks/open_cases.py A.duckdb B.duckdb
(A: e.g. the demo generated before it planted open cases, or with the open rows removed from
landing/audits). Exit 0 when the lists of B are those of A without the open cases.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

COLUMNS = "program, nit, tax_year, risk_score, expected_recovery, model_version"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"attach '{args.a}' as a (read_only)")
    con.execute(f"attach '{args.b}' as b (read_only)")
    con.execute("create temp table open_cases as select * from b.marts.cases_in_progress")
    n = con.execute("select count(*) from open_cases").fetchone()[0]
    print(f"cases in progress in B: {n}")
    ok = True
    for program, in con.execute(
        "select distinct program from a.marts.audit_ranking order by 1"
    ).fetchall():
        p = {"p": program}
        (was_listed, top100, left) = con.execute(
            "select count(*), count(*) filter (where r.rank <= 100), "
            "(select count(*) from b.marts.audit_ranking as x semi join open_cases as o "
            " using (nit, tax_year) where x.program = $p) "
            "from a.marts.audit_ranking as r semi join open_cases as o using (nit, tax_year) "
            "where r.program = $p",
            p,
        ).fetchone()
        ranks = [r[0] for r in con.execute(
            "select r.rank from a.marts.audit_ranking as r semi join open_cases as o "
            "using (nit, tax_year) where r.program = $p and r.rank <= 100 order by 1",
            p,
        ).fetchall()]
        # B's list, in its order, against A's list without the open cases, in A's order.
        differ = con.execute(
            f"with x as (select row_number() over (order by rank) as i, {COLUMNS} "
            "  from a.marts.audit_ranking as r anti join open_cases as o using (nit, tax_year) "
            "  where r.program = $p), "
            f"y as (select row_number() over (order by rank) as i, {COLUMNS} "
            "  from b.marts.audit_ranking where program = $p) "
            "select count(*) from x full join y using (i) "
            "where x.nit is distinct from y.nit or x.tax_year is distinct from y.tax_year "
            "or x.risk_score is distinct from y.risk_score "
            "or x.expected_recovery is distinct from y.expected_recovery "
            "or x.model_version is distinct from y.model_version",
            p,
        ).fetchone()[0]
        print(
            f"{program}: {was_listed} of the open cases were in A's list, {top100} in its top "
            f"100 (ranks {ranks}); in B's list: {left}; other rows that differ: {differ}"
        )
        ok = ok and left == 0 and differ == 0
    versions = con.execute(
        "select count(*) from a.scoring.risk_models as x join b.scoring.risk_models as y "
        "using (program) where x.model_version <> y.model_version"
    ).fetchone()[0]
    print(f"model versions that changed: {versions}")
    stats = con.execute(
        "select min(days_left), median(days_left), max(days_left), "
        "count(*) filter (where days_left < 365), count(*) filter (where days_left < 0), "
        "min(days_open), max(days_open) from open_cases"
    ).fetchone()
    print(
        f"days left before the statute expires: min {stats[0]}, median {stats[1]:g}, max "
        f"{stats[2]}; under a year: {stats[3]}; expired: {stats[4]}; days open {stats[5]}-"
        f"{stats[6]}"
    )
    for row in con.execute(
        "select case_id, program, nit, tax_year, opened_on, days_open, statute_expires_on, "
        "days_left from open_cases order by days_left limit 5"
    ).fetchall():
        print("  ", *row)
    return 0 if ok and versions == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
