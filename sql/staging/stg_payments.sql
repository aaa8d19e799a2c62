-- Payments, one row per receipt: the same payment_id in two files is counted once.
create or replace table staging.stg_payments as
select
    payment_id,
    nit,
    tax_year,
    paid_on,
    amount,
    _file as source_file,
    _row_number as source_row
from raw.payments
qualify row_number() over (
    partition by payment_id order by _batch_id desc, _row_number desc
) = 1;
