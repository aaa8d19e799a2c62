"""One spec per scoring program: every feature is explained by a reason family, every family,
constraint and amount-only name is a feature, and every feature is a column of the program's
feature table."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from fiscal_intel.scoring import phrases
from fiscal_intel.scoring.programs import PROGRAMS
from fiscal_intel.scoring.reason_texts import FAMILY_NAMES


def test_every_program_spec_is_consistent() -> None:
    assert list(PROGRAMS) == ["omiso", "inexacto"]
    for name, spec in PROGRAMS.items():
        assert spec.name == name
        assert spec.problems() == [], spec.problems()
        for family in spec.families:
            for lang in ("es", "en"):
                assert f"{name}.{family}" in FAMILY_NAMES[lang], (lang, name, family)


def test_a_feature_without_a_family_or_a_family_without_its_feature_fails() -> None:
    spec = PROGRAMS["inexacto"]
    orphan = replace(spec, features=(*spec.features, "new_signal"))
    assert orphan.problems() == ["inexacto: feature 'new_signal' has no reason family"]
    families = dict(spec.families)
    families["new"] = (phrases.entity, ("missing_column",))
    dangling = replace(spec, families=families)
    assert dangling.problems() == ["inexacto.new: names 'missing_column', not a feature"]
    bad_constraint = replace(spec, monotone={**spec.monotone, "gone": 1})
    assert bad_constraint.problems() == ["inexacto.monotone: 'gone' is not a feature"]
    twice = replace(spec, features=(*spec.features, spec.features[0]))
    assert twice.problems() == [f"inexacto: listed twice: {spec.features[0]}"]


def test_every_feature_is_a_column_of_its_table(demo_run) -> None:
    with duckdb.connect(str(demo_run["warehouse"]), read_only=True) as con:
        for name, spec in PROGRAMS.items():
            columns = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'features' and table_name = $t",
                    {"t": f"{name}_features"},
                ).fetchall()
            }
            assert set(spec.features) <= columns, set(spec.features) - columns
            labels = spec.labels
            assert {labels.adjusted, labels.amount, labels.closed_on, labels.selection} <= columns


def test_a_corroborating_witness_must_be_a_feature() -> None:
    spec = PROGRAMS["omiso"]
    assert set(spec.corroboration) <= set(spec.features) and spec.corroboration_multiple > 1
    bad = replace(spec, corroboration=(*spec.corroboration, "gone"))
    assert bad.problems() == ["omiso.corroboration: 'gone' is not a feature"]


def test_an_amount_witness_must_be_a_feature() -> None:
    spec = PROGRAMS["inexacto"]
    assert spec.amount_witnesses and set(spec.amount_witnesses) <= set(spec.features)
    assert PROGRAMS["omiso"].amount_witnesses == ()
    bad = replace(spec, amount_witnesses=(*spec.amount_witnesses, "gone"))
    assert bad.problems() == ["inexacto.amount_witnesses: 'gone' is not a feature"]


def test_a_learnt_corroboration_multiple_needs_witnesses_and_a_quantile() -> None:
    spec = PROGRAMS["omiso"]
    assert spec.corroboration_quantile is not None and 0 < spec.corroboration_quantile < 1
    assert PROGRAMS["inexacto"].corroboration_quantile is None
    for bad in (replace(spec, corroboration=()), replace(spec, corroboration_quantile=1.5)):
        assert bad.problems() == [
            f"omiso.corroboration_quantile: {bad.corroboration_quantile!r} needs witnesses "
            "and lies in (0, 1)"
        ]
