"""Jobs: the whole pipeline, the nightly rebuild and the yearly retrain."""

import dagster as dg

# The data flows one way through these asset groups; the CLI materialises them in this order.
STAGES: tuple[str, ...] = ("ref", "raw", "staging", "features", "scoring", "marts")

everything = dg.define_asset_job(
    "fiscal_intel_all",
    selection=dg.AssetSelection.all(),
    description="Load new landing files and rebuild staging, features, scores and marts.",
)

nightly = dg.define_asset_job(
    "nightly_lists_and_marts",
    selection=dg.AssetSelection.groups("staging", "features", "scoring", "marts"),
    description="Rebuild staging, features, scores and marts from what is already loaded.",
)

yearly_retrain = dg.define_asset_job(
    "yearly_model_retrain",
    selection=dg.AssetSelection.groups("features", "scoring", "marts"),
    description="Retrain the risk models on every closed audit and rescore the open cases.",
)

jobs = [everything, nightly, yearly_retrain]
