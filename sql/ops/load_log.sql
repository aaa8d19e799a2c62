-- Every file the loader has seen: loaded, skipped as a byte-identical duplicate, or failed.
-- format says how a loaded file was read (encoding, delimiter, sheet); message says what else
-- happened (why a file failed, header row, blank rows, columns mapped from the export's names).
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
    message varchar,
    format varchar
);

-- Warehouses created before the format column existed gain it.
alter table ops.load_log add column if not exists format varchar;
