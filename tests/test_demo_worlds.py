"""The second demo world (``--world llanura``): built on other assumptions than the first, and
the first unchanged."""

from __future__ import annotations

import json

import polars as pl
import pytest

from fiscal_intel.demo import generate
from fiscal_intel.demo.worlds import WORLDS


@pytest.fixture(scope="module")
def llanura(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("llanura")
    generate(root / "landing", root / "truth", taxpayers=2_000, seed=5, world="llanura")
    landing = root / "landing"
    return {
        "root": root,
        "rit": pl.read_csv(landing / "taxpayers" / "*.csv", infer_schema=False),
        "rues": pl.read_csv(landing / "commerce_registry" / "*.csv", infer_schema=False),
        "wh": pl.read_csv(landing / "withholdings" / "*.csv", infer_schema=False),
        "audits": pl.read_csv(landing / "audits" / "*.csv", infer_schema=False),
        "truth": pl.read_csv(root / "truth" / "tax_gap.csv", infer_schema=False),
        "manifest": json.loads((root / "truth" / "manifest.json").read_text()),
    }


def test_the_first_world_is_the_default_and_unchanged(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a / "landing", a / "truth", taxpayers=300, seed=3)
    generate(b / "landing", b / "truth", taxpayers=300, seed=3, world="rionegro")
    for path in sorted((a / "landing").rglob("*.csv")):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes(), path
    assert "world" not in json.loads((a / "truth" / "manifest.json").read_text())["args"]
    with pytest.raises(ValueError, match="unknown world"):
        generate(a / "landing", a / "truth", taxpayers=300, seed=3, world="atlantis")


def test_contractors_from_elsewhere_are_seen_only_through_withholdings(llanura) -> None:
    registered = set(llanura["rit"]["nit"]) | set(
        llanura["rues"].filter(pl.col("municipality_code") == "05615")["nit"].drop_nulls()
    )
    paid = set(llanura["wh"]["nit"])
    only_paid = paid - registered
    planted = llanura["manifest"]["entities"]["contractors_registered_elsewhere"]
    assert planted == round(0.03 * 2_000)
    assert len(only_paid) >= 0.9 * planted
    # they owe here: operating non-filers in the truth
    omiso = llanura["truth"].filter(
        (pl.col("program") == "omiso") & pl.col("nit").is_in(list(only_paid))
    )
    assert (omiso["kind"] == "operating_unregistered").all()
    assert omiso["true_gap"].cast(pl.Int64).sum() > 0


def test_cash_sectors_have_no_third_party_evidence_and_fragments_share_a_name(llanura) -> None:
    rit = llanura["rit"]
    cash = rit.filter(
        (pl.col("taxpayer_type") == "natural")
        & pl.col("ciiu").str.slice(0, 2).is_in(list(WORLDS["llanura"].cash_divisions))
    )
    assert cash.height > 50
    assert not set(cash["nit"]) & set(llanura["wh"]["nit"])
    roots = cash.with_columns(
        root=pl.col("legal_name").str.split(" ").list.slice(-2).list.join(" ")
    ).group_by("root", "ciiu").agg(pl.len().alias("n"), pl.col("registered_on"))
    groups = llanura["manifest"]["entities"]["fragmented_businesses"]
    assert groups > 0 and roots.filter(pl.col("n") >= 2).height >= groups
    hidden = llanura["truth"].filter(
        pl.col("nit").is_in(list(cash["nit"])) & (pl.col("kind") == "hidden_income")
    )
    assert hidden.height > 0


def test_the_new_form_spreads_after_the_audited_years_and_audits_aim_at_the_largest(
    llanura,
) -> None:
    truth = llanura["truth"]
    spread = truth.filter(pl.col("kind") == "spread_exempt")
    assert set(spread["tax_year"].cast(pl.Int64)) == {2023, 2024}
    audited_years = set(llanura["audits"].filter(pl.col("closed_on").is_not_null())["tax_year"])
    assert max(int(y) for y in audited_years) <= 2023
    closed = llanura["audits"].filter(pl.col("closed_on").is_not_null())
    random_share = (closed["selection"] == "random").mean()
    assert 0.005 < random_share < 0.05
