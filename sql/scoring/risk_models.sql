-- The model behind each program's current list: version, training window and counts,
-- importances and the boosters themselves, so any list can be traced to (and rebuilt from) the
-- model that made it. classifier holds a JSON list of LightGBM model strings (one per member).
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
    amount_model varchar
);
