"""Compare every table of two warehouses, row for row and value for value (issue #7).

A speed change must not change any output. This script attaches two DuckDB files read-only and,
for every table in either (run bookkeeping excepted: ``ops.run_log`` and ``ops.load_log`` carry
wall-clock times), reports:

- tables or columns present on one side only, and columns whose type differs;
- row counts;
- whether the rows are identical in stored order (``rowid``); if not, the rows of one side
  missing from the other, as a multiset (``except all`` both ways), where doubles are compared
  exactly unless ``--rel-tol`` is given (same rows in another order: status "order");
- with ``--rel-tol``: tables whose only differences are doubles within that relative tolerance
  (last-bit differences from a changed summation order) are reported as "close", not "differ".

A table sorted on purpose (``marts.audit_ranking``, the score tables) must keep its stored order:
there a reordering counts as a difference, elsewhere it is reported but tolerated.

Usage: .venv/bin/python benchmarks/compare_warehouses.py A.duckdb B.duckdb [--rel-tol 1e-12]
Exit 0 when every table is identical (or close, with --rel-tol; or reordered, where the order is
not part of the output), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

SKIP = {("ops", "run_log"), ("ops", "load_log")}
# Columns written from the wall clock at load time: same input, different value by design. Batch
# ids number loads in the order they happened across sources (sources load side by side on a
# distributed executor); staging reads them only within one source, whose files always load in
# the same order, so they are bookkeeping too.
VOLATILE = {
    ("ops", "load_log"): {"loaded_at", "batch_id"},
    ("ops", "quarantine"): {"batch_id"},
    ("raw", "*"): {"_loaded_at", "_batch_id"},
}
FLOATS = {"DOUBLE", "FLOAT", "REAL"}
# Tables whose stored order is part of the output (ranked lists).
ORDERED = {
    ("marts", "audit_ranking"),
    ("scoring", "omiso_scores"),
    ("scoring", "inexacto_scores"),
    ("scoring", "backtest"),
}


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[tuple[str, str], list[tuple]]:
    rows = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = $db order by schema_name, table_name, column_index",
        {"db": db},
    ).fetchall()
    out: dict[tuple[str, str], list[tuple]] = {}
    for schema, table, column, kind in rows:
        out.setdefault((schema, table), []).append((column, kind))
    return out


def _volatile(key: tuple[str, str]) -> set[str]:
    return VOLATILE.get(key, set()) | VOLATILE.get((key[0], "*"), set())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compare_table(
    con: duckdb.DuckDBPyConnection,
    key: tuple[str, str],
    columns: list[tuple[str, str]],
    rel_tol: float | None,
) -> tuple[str, str]:
    """('same' | 'close' | 'order' | 'differ', detail) for a table in both warehouses."""
    schema, table = key
    names = [c for c, _ in columns if c not in _volatile(key)]
    cols = ", ".join(_quote(c) for c in names)
    a, b = f"a.{_quote(schema)}.{_quote(table)}", f"b.{_quote(schema)}.{_quote(table)}"
    na = con.execute(f"select count(*) from {a}").fetchone()[0]
    nb = con.execute(f"select count(*) from {b}").fetchone()[0]
    if na != nb:
        return "differ", f"rows {na:,} vs {nb:,}"
    # Row for row in stored order first (the strictest test, and the usual outcome).
    positional = con.execute(
        f"select count(*) from (select rowid as i, {cols} from {a}) as x "
        f"full join (select rowid as i, {cols} from {b}) as y using (i) "
        "where " + " or ".join(f"x.{_quote(c)} is distinct from y.{_quote(c)}" for c in names)
    ).fetchone()[0]
    if not positional:
        return "same", f"{na:,} rows"
    only_a = con.execute(
        f"select count(*) from (select {cols} from {a} except all select {cols} from {b})"
    ).fetchone()[0]
    only_b = con.execute(
        f"select count(*) from (select {cols} from {b} except all select {cols} from {a})"
    ).fetchone()[0]
    if not (only_a or only_b):
        # the same rows in another stored order: a ranked table must keep its order
        status = "differ" if key in ORDERED else "order"
        return status, f"same {na:,} rows, {positional:,} at other positions"
    detail = f"{only_a:,} rows only in A, {only_b:,} only in B (of {na:,})"
    floats = [c for c, k in columns if k in FLOATS and c in names]
    if rel_tol is None or not floats:
        return "differ", detail
    # Pair the rows by their stored order when the table is ordered, else by every non-float
    # column (sorted); then check each double within the tolerance.
    exact = [c for c in names if c not in floats]
    order = ", ".join(_quote(c) for c in exact) if exact else "1"
    numbering = "rowid" if key in ORDERED else f"row_number() over (order by {order})"
    mismatch = " or ".join(
        [f"x.{_quote(c)} is distinct from y.{_quote(c)}" for c in exact]
        + [
            f"not (x.{_quote(c)} is not distinct from y.{_quote(c)} or "
            f"abs(x.{_quote(c)} - y.{_quote(c)}) <= $tol * greatest(abs(x.{_quote(c)}), "
            f"abs(y.{_quote(c)})))"
            for c in floats
        ]
    )
    bad = con.execute(
        f"select count(*) from (select {numbering} as i, {cols} from {a}) as x "
        f"full join (select {numbering} as i, {cols} from {b}) as y using (i) where {mismatch}",
        {"tol": rel_tol},
    ).fetchone()[0]
    if bad:
        return "differ", f"{detail}; {bad:,} beyond rel-tol {rel_tol:g}"
    return "close", f"{detail}; all within rel-tol {rel_tol:g}"


def compare(path_a: str, path_b: str, rel_tol: float | None = None) -> list[tuple]:
    """One (schema.table, status, detail) per table of either warehouse."""
    con = duckdb.connect()
    con.execute(f"attach '{path_a}' as a (read_only)")
    con.execute(f"attach '{path_b}' as b (read_only)")
    ta, tb = _tables(con, "a"), _tables(con, "b")
    out = []
    for key in sorted(ta.keys() | tb.keys()):
        name = ".".join(key)
        if key in SKIP:
            continue
        if key not in tb:
            out.append((name, "differ", "only in A"))
            continue
        if key not in ta:
            out.append((name, "differ", "only in B"))
            continue
        if ta[key] != tb[key]:
            out.append((name, "differ", f"columns differ: {ta[key]} vs {tb[key]}"))
            continue
        out.append((name, *compare_table(con, key, ta[key], rel_tol)))
    con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rel-tol", type=float, default=None)
    parser.add_argument("--quiet", action="store_true", help="print only what is not 'same'")
    args = parser.parse_args(argv)
    results = compare(args.a, args.b, args.rel_tol)
    worst = 0
    for name, status, detail in results:
        if status != "same" or not args.quiet:
            print(f"{status:<7} {name:<40} {detail}")
        worst = max(worst, {"same": 0, "close": 0, "order": 0, "differ": 1}[status])
    counts = {s: sum(1 for r in results if r[1] == s) for s in ("same", "close", "order", "differ")}
    print(f"{len(results)} tables: {counts['same']} same, {counts['close']} close, "
          f"{counts['order']} reordered, {counts['differ']} differ")  # fmt: skip
    return worst


if __name__ == "__main__":
    sys.exit(main())
