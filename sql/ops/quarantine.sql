-- Rows that could not be made valid, with where they came from and why. nit and tax_year are
-- the row's own values where they could be read: a return in quarantine still says that its
-- filer filed for that year (features.omiso_features does not call such a filer an omiso).
create table if not exists ops.quarantine (
    source varchar,
    file varchar,
    row_number bigint,
    reason varchar,
    raw varchar,
    sha256 varchar,
    batch_id bigint,
    nit varchar,
    tax_year bigint
);

alter table ops.quarantine add column if not exists nit varchar;

alter table ops.quarantine add column if not exists tax_year bigint;
