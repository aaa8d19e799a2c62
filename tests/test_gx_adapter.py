"""The GX adapter's shortcuts (suites registered once per process, pass/fail decided before the
counts) give the outcomes of one plain ``SUMMARY`` validation, verdicts, counts and samples."""

from __future__ import annotations

import pandas as pd

from fiscal_intel.validation import gx as adapter
from fiscal_intel.validation.gx import SuiteOutcome, validate_frame

SUITE = {
    "name": "adapter_test",
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": 100, "mostly": 0.99},
        },
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ],
}


def _summary(df: pd.DataFrame, suite_json: dict) -> SuiteOutcome:
    """The reference: the whole suite validated once with ``SUMMARY``, nothing skipped."""
    with adapter._CONTEXT_LOCK:
        batch_definition, suite = adapter._registered(suite_json)
        result = batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(
            suite, result_format="SUMMARY"
        )
    outcomes = [
        adapter.ExpectationOutcome(
            r.expectation_config.type,
            adapter._columns_of(r.expectation_config.kwargs),
            bool(r.success),
            r.result.get("unexpected_count"),
            [adapter.plain_sample(v) for v in (r.result.get("partial_unexpected_list") or [])][:5],
        )
        for r in sorted(
            result.results, key=lambda r: adapter._position(suite_json, r.expectation_config)
        )
    ]
    return SuiteOutcome(suite_json["name"], bool(result.success), len(df), outcomes)


def test_outcomes_equal_one_summary_validation() -> None:
    clean = pd.DataFrame({"id": range(1_000), "amount": [5.0] * 1_000})
    tolerated = clean.assign(amount=[500.0 if i == 7 else 5.0 for i in range(1_000)])
    broken = tolerated.assign(id=[0 if i < 3 else i for i in range(1_000)])
    for df in (clean, tolerated, broken, clean):  # and again: the registration is reused
        assert repr(validate_frame(df, SUITE)) == repr(_summary(df, SUITE))
    passed = validate_frame(tolerated, SUITE)
    assert passed.success and passed.outcomes[2].unexpected_count == 1  # within mostly
    assert passed.outcomes[2].sample == [500.0] and passed.outcomes[0].unexpected_count == 0
    failed = validate_frame(broken, SUITE)
    assert not failed.success and failed.failures[0].unexpected_count == 3
    # A suite of the same name with other expectations replaces the registered one.
    stricter = {**SUITE, "expectations": [{**SUITE["expectations"][2], "kwargs": {
        "column": "amount", "min_value": 0, "max_value": 100}}]}  # fmt: skip
    assert not validate_frame(tolerated, stricter).success
    assert validate_frame(tolerated, SUITE).success
