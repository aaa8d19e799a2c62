"""Jobs: the whole pipeline, the nightly rebuild and the yearly retrain."""

import dagster as dg

# The data flows one way through these asset groups; the CLI materialises them in this order.
STAGES: tuple[str, ...] = ("ref", "raw", "staging", "features", "scoring", "marts")

everything = dg.define_asset_job(
    "fiscal_intel_all",
    selection=dg.AssetSelection.all(),
    description="Load new landing files and rebuild staging, features, scores and marts.",
)

# Training: the stored models and the backtest that retrains them as of a past cut-off. The
# nightly run scores with the stored models; only the yearly retrain (and a CLI run) trains.
TRAINING = dg.AssetSelection.assets(
    dg.AssetKey(["scoring", "risk_models"]), dg.AssetKey(["scoring", "backtest"])
)

nightly = dg.define_asset_job(
    "nightly_lists_and_marts",
    selection=dg.AssetSelection.groups("staging", "features", "scoring", "marts") - TRAINING,
    description=(
        "Rebuild staging, features, scores and marts from what is already loaded, scoring with "
        "the stored models (scoring.risk_models)."
    ),
)

yearly_retrain = dg.define_asset_job(
    "yearly_model_retrain",
    selection=dg.AssetSelection.groups("features", "scoring", "marts"),
    description="Retrain the risk models on every closed audit, store them, rescore open cases.",
)

jobs = [everything, nightly, yearly_retrain]
