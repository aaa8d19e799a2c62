-- Rows that could not be made valid, with where they came from and why.
create table if not exists ops.quarantine (
    source varchar,
    file varchar,
    row_number bigint,
    reason varchar,
    raw varchar,
    sha256 varchar,
    batch_id bigint
);
