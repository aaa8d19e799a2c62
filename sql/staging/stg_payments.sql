-- Payments, one row per receipt: the same payment_id in two files is counted once (the latest
-- file's row wins). Partitioned by tax_year: this query selects the rows of the years in $years
-- (receipts are deduplicated across all years first, so a receipt restated under another year
-- moves). Only repeated ids are ranked: a window over every receipt cost ~50 % more at 5M.
with repeated as (
    select payment_id
    from raw.payments
    group by payment_id
    having count(*) > 1
),

superseded as (
    select
        p._batch_id,
        p._row_number
    from raw.payments as p
    semi join repeated as r on p.payment_id = r.payment_id
    qualify row_number() over (
        partition by p.payment_id order by p._batch_id desc, p._row_number desc
    ) > 1
)

select
    p.payment_id,
    p.nit,
    p.tax_year,
    p.paid_on,
    p.amount,
    p._file as source_file,
    p._row_number as source_row
from raw.payments as p
anti join superseded as s on p._batch_id = s._batch_id and p._row_number = s._row_number
where list_contains($years, p.tax_year);
