-- The model behind each program's current list: version, training counts, importances and the
-- boosters themselves, so any list can be traced to (and rebuilt from) the model that made it.
create table if not exists scoring.risk_models (
    program varchar,
    model_version varchar,
    as_of date,
    train_rows bigint,
    positives bigint,
    random_rows bigint,
    base_rate double,
    median_amount double,
    features varchar,
    importance varchar,
    classifier varchar,
    amount_model varchar
);
