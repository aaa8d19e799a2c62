"""Jobs: the whole pipeline, and the stages the CLI runs one after another."""

from __future__ import annotations

import dagster as dg

# The data flows one way through these asset groups; the CLI materialises them in this order.
STAGES: tuple[str, ...] = ("ref", "raw", "staging", "features", "scoring", "marts")

everything = dg.define_asset_job(
    "fiscal_intel_all",
    selection=dg.AssetSelection.all(),
    description="Load new landing files and rebuild staging, features, scores and marts.",
)

jobs = [everything]
