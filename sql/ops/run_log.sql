-- One row per pipeline run: what it loaded, which checks failed, which models scored, and the
-- size of what it built. A CLI run inserts its row as 'running' before its first stage and
-- replaces it when it ends, successful or not; the next run marks 'died' a row left 'running'.
create table if not exists ops.run_log (
    run_id varchar,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    failed_stage varchar,
    message varchar,
    landing varchar,
    as_of date,
    files_loaded bigint,
    files_failed bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    checks_passed bigint,
    checks_failed varchar,
    model_versions varchar,
    table_rows varchar
);
