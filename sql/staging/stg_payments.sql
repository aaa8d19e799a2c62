-- Payments, one row per receipt: the same payment_id in two files is counted once.
-- Partitioned by tax_year: this query selects the rows of the years in $years (receipts are
-- deduplicated across all years first, so a receipt restated under another year moves).
with receipts as (
    select *
    from raw.payments
    qualify row_number() over (
        partition by payment_id order by _batch_id desc, _row_number desc
    ) = 1
)

select
    payment_id,
    nit,
    tax_year,
    paid_on,
    amount,
    _file as source_file,
    _row_number as source_row
from receipts
where list_contains($years, tax_year);
