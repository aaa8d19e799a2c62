"""The same GX suites, evaluated inside DuckDB over the whole table.

Great Expectations validates through pandas here (``fiscal_intel.validation.gx``): at national
scale that means copying tens of millions of rows into pandas for every check, which cost more
than loading them. The expectation types our suites use are simple row predicates, uniqueness
and counts, so they compile to SQL that DuckDB runs in one scan per table (plus one GROUP BY
per uniqueness rule), with the counts GX itself reports. GX still runs, on a deterministic
sample (see ``fiscal_intel.assets.checks``); ``tests/test_validation_pushdown.py`` proves the
two engines give the same verdicts and counts on the same rows, planted violations included.

A suite with an expectation type this module does not know raises :class:`Unsupported`; the
check then validates the whole table through GX, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from fiscal_intel.validation.gx import ExpectationOutcome, SuiteOutcome, plain_sample

SAMPLE_VALUES = 5


class Unsupported(Exception):
    """An expectation type (or option) with no SQL translation here."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class _Rule:
    """One expectation as SQL: rows it finds unexpected, and the rows it judges."""

    expectation: str
    column: str | None
    unexpected: str | None  # a row predicate (map expectations), else None
    judged: str  # which rows count in the denominator of ``mostly``
    mostly: float
    sample: str | None = None  # what to show of an unexpected row
    group_by: tuple[str, ...] = ()  # uniqueness: duplicated values are unexpected
    row_count: tuple[Any, Any] | None = None  # expect_table_row_count_to_be_between


_SUPPORTED_OPTIONS = {"column", "column_list", "mostly", "result_format", "catch_exceptions"}


def _rule(expectation: dict) -> _Rule:
    kind = expectation["type"]
    kwargs = dict(expectation.get("kwargs", {}))
    mostly = float(kwargs.get("mostly", 1.0))
    column = kwargs.get("column")
    col = _ident(column) if column else None
    not_null = f"{col} is not null" if col else "true"

    def extra(allowed: set[str]) -> None:
        unknown = set(kwargs) - _SUPPORTED_OPTIONS - allowed
        if unknown:
            raise Unsupported(f"{kind}: options {sorted(unknown)}")

    if kind == "expect_column_values_to_not_be_null":
        extra(set())
        return _Rule(kind, column, f"{col} is null", "true", mostly, "null")
    if kind == "expect_column_values_to_be_between":
        extra({"min_value", "max_value", "strict_min", "strict_max"})
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        bad = []
        if low is not None:
            bad.append(f"{col} {'<=' if kwargs.get('strict_min') else '<'} {_literal(low)}")
        if high is not None:
            bad.append(f"{col} {'>=' if kwargs.get('strict_max') else '>'} {_literal(high)}")
        predicate = f"{not_null} and ({' or '.join(bad) or 'false'})"
        return _Rule(kind, column, predicate, not_null, mostly, col)
    if kind == "expect_column_values_to_be_in_set":
        extra({"value_set"})
        values = ", ".join(_literal(v) for v in kwargs["value_set"])
        return _Rule(kind, column, f"{not_null} and {col} not in ({values})", not_null, mostly, col)
    if kind == "expect_column_values_to_match_regex":
        extra({"regex"})
        # GX (pandas) searches with Python's re; the suites anchor their patterns, and RE2
        # agrees with re on the plain classes and counts they use.
        pattern = _literal(kwargs["regex"])
        predicate = f"{not_null} and not regexp_matches({col}::varchar, {pattern})"
        return _Rule(kind, column, predicate, not_null, mostly, col)
    if kind == "expect_column_values_to_be_unique":
        extra(set())
        return _Rule(kind, column, None, not_null, mostly, group_by=(column,))
    if kind == "expect_compound_columns_to_be_unique":
        extra(set())
        columns = tuple(kwargs["column_list"])
        return _Rule(kind, ",".join(columns), None, "true", mostly, group_by=columns)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        extra({"column_A", "column_B", "or_equal", "ignore_row_if"})
        a, b = _ident(kwargs["column_A"]), _ident(kwargs["column_B"])
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        if ignore == "both_values_are_missing":
            judged = f"({a} is not null or {b} is not null)"
        elif ignore == "either_value_is_missing":
            judged = f"({a} is not null and {b} is not null)"
        else:
            raise Unsupported(f"{kind}: ignore_row_if={ignore}")
        holds = f"{a} {'>=' if kwargs.get('or_equal') else '>'} {b}"
        predicate = f"{judged} and not coalesce({holds}, false)"
        name = f"{kwargs['column_A']},{kwargs['column_B']}"
        return _Rule(kind, name, predicate, judged, mostly, f"[{a}::varchar, {b}::varchar]")
    if kind == "expect_table_row_count_to_be_between":
        extra({"min_value", "max_value"})
        bounds = (kwargs.get("min_value"), kwargs.get("max_value"))
        return _Rule(kind, None, None, "true", 1.0, row_count=bounds)
    raise Unsupported(kind)


def compile_suite(suite_json: dict) -> list[_Rule]:
    """The suite's expectations as SQL rules; raises :class:`Unsupported` for any it cannot."""
    return [_rule(e) for e in suite_json["expectations"]]


def _passes(unexpected: int, judged: int, mostly: float) -> bool:
    if unexpected == 0:
        return True
    return judged > 0 and (1 - unexpected / judged) >= mostly


def _duplicated(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]
) -> tuple[int, list[Any]]:
    """Rows whose value (or combination) occurs more than once, and a few such values.

    A single column ignores NULLs; a combination ignores rows where every column is NULL.
    """
    keys = ", ".join(_ident(c) for c in columns)
    if len(columns) == 1:
        shown, present = keys, f"{keys} is not null"
    else:
        shown = "[" + ", ".join(f"{_ident(c)}::varchar" for c in columns) + "]"
        present = " or ".join(f"{_ident(c)} is not null" for c in columns)
    rows, values = con.execute(
        f"select coalesce(sum(n), 0), list(k order by k)[1:{SAMPLE_VALUES}] from ("
        f"select {shown} as k, count(*) as n from {table} where {present} "
        f"group by {keys} having count(*) > 1)"
    ).fetchone()
    return int(rows), [plain_sample(v) for v in (values or [])]


def validate_table(con: duckdb.DuckDBPyConnection, table: str, suite_json: dict) -> SuiteOutcome:
    """Evaluate ``suite_json`` on every row of ``table`` inside DuckDB."""
    rules = compile_suite(suite_json)
    aggregates = ["count(*)"]
    for rule in rules:
        if rule.unexpected is not None:
            aggregates.append(f"count(*) filter (where {rule.unexpected})")
        aggregates.append(f"count(*) filter (where {rule.judged})")
    counts = con.execute(f"select {', '.join(aggregates)} from {table}").fetchone()
    rows, position = counts[0], 1
    outcomes = []
    for rule in rules:
        sample: list[Any] = []
        if rule.row_count is not None:
            low, high = rule.row_count
            ok = (low is None or rows >= low) and (high is None or rows <= high)
            outcomes.append(ExpectationOutcome(rule.expectation, None, ok, None, []))
            position += 1
            continue
        if rule.unexpected is not None:
            unexpected, judged = counts[position], counts[position + 1]
            position += 2
            if unexpected:
                sample = [
                    plain_sample(r[0])
                    for r in con.execute(
                        f"select {rule.sample} from {table} where {rule.unexpected} "
                        f"order by 1 nulls first limit {SAMPLE_VALUES}"
                    ).fetchall()
                ]
        else:
            judged = counts[position]
            position += 1
            unexpected, sample = _duplicated(con, table, rule.group_by)
        outcomes.append(
            ExpectationOutcome(
                rule.expectation,
                rule.column,
                _passes(unexpected, judged, rule.mostly),
                unexpected,
                sample,
            )
        )
    return SuiteOutcome(suite_json["name"], all(o.success for o in outcomes), int(rows), outcomes)
