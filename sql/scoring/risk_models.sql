-- The model behind each program's list: version, training window and counts, importances and
-- the boosters themselves. The asset scoring/risk_models trains and writes them; the score
-- assets load them from here, so a nightly run scores with the model the yearly retrain stored.
-- classifier holds a JSON list of LightGBM model strings (one per member), amount_spec what the
-- amount model learns from (JSON), median_log_amount its fallback, params the training knobs,
-- late_filing_classifier the late-filing members (omiso: JSON list) and late_filing_rows their
-- training rows.
create table if not exists scoring.risk_models (
    program varchar,
    model_version varchar,
    as_of date,
    train_rows bigint,
    positives bigint,
    random_rows bigint,
    random_positives bigint,
    trained_from date,
    trained_to date,
    amount_rows bigint,
    amount_source varchar,
    base_rate double,
    median_amount double,
    features varchar,
    importance varchar,
    classifier varchar,
    amount_model varchar,
    amount_spec varchar,
    median_log_amount double,
    params varchar,
    late_filing_classifier varchar,
    late_filing_rows bigint
);
