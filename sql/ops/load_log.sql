-- Every file the loader has seen: loaded, skipped as a byte-identical duplicate, or failed.
create table if not exists ops.load_log (
    batch_id bigint,
    source varchar,
    file varchar,
    sha256 varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    loaded_at timestamp,
    status varchar,
    message varchar
);
