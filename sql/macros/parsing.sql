-- Value parsers shared by every loader. Each returns NULL when the text cannot be read, so the
-- loader can say why a row is quarantined. They mirror fiscal_intel/ingest/values.py and
-- fiscal_intel/ingest/nit.py; tests/test_sql_parity.py keeps the two in step.
-- Plain expressions only (no subqueries): macros are inlined into every loader query.

create or replace macro fi_text(x) as nullif(trim(x), '');

create or replace macro fi_money_text(x) as regexp_replace(trim(x), '[\s$]', '', 'g');

-- Money: 1234567 | 1234567.00 | 1.234.567 | 1.234.567,00 | 1234567,5 | $ 1,234,567.00
create or replace macro fi_money(x) as (
    case
        when regexp_full_match(fi_money_text(x), '-?\d+(\.\d{1,2})?')
            then try_cast(fi_money_text(x) as decimal(18, 2))
        when regexp_full_match(fi_money_text(x), '-?\d{1,3}(\.\d{3})+(,\d+)?')
            then try_cast(replace(replace(fi_money_text(x), '.', ''), ',', '.') as decimal(18, 2))
        when regexp_full_match(fi_money_text(x), '-?\d+,\d+')
            then try_cast(replace(fi_money_text(x), ',', '.') as decimal(18, 2))
        when regexp_full_match(fi_money_text(x), '-?\d{1,3}(,\d{3})+(\.\d+)?')
            then try_cast(replace(fi_money_text(x), ',', '') as decimal(18, 2))
        when regexp_full_match(fi_money_text(x), '-?\d+\.\d+')
            then try_cast(fi_money_text(x) as decimal(18, 2))
    end
);

-- Plain numbers (rates): a comma is the decimal mark when present.
create or replace macro fi_number(x) as (
    case
        when regexp_full_match(trim(x), '-?\d+(\.\d+)?') then try_cast(trim(x) as double)
        when regexp_full_match(trim(x), '-?\d+(\.\d{3})*,\d+')
            then try_cast(replace(replace(trim(x), '.', ''), ',', '.') as double)
    end
);

-- Integers; spreadsheets write whole numbers as 2023.0.
create or replace macro fi_int(x) as (
    case
        when regexp_full_match(trim(x), '-?\d{1,18}') then try_cast(trim(x) as bigint)
        when regexp_full_match(trim(x), '-?\d{1,18}\.0+')
            then try_cast(split_part(trim(x), '.', 1) as bigint)
    end
);

-- Dates: ISO (optionally with a midnight time, as spreadsheets write them) or day first.
create or replace macro fi_date(x) as (
    coalesce(
        try_strptime(trim(x), '%Y-%m-%d'),
        try_strptime(trim(x), '%d/%m/%Y'),
        try_strptime(trim(x), '%Y-%m-%d %H:%M:%S'),
        try_strptime(trim(x), '%Y-%m-%dT%H:%M:%S')
    )::date
);

create or replace macro fi_nit_text(x) as regexp_replace(coalesce(x, ''), '[\s\.,]', '', 'g');

-- NIT: digits only, no DV, no leading zeros. NULL when the text is not a NIT.
create or replace macro fi_nit_body(x) as (
    case
        when regexp_full_match(fi_nit_text(x), '\d{1,15}(-\d)?')
            then nullif(ltrim(split_part(fi_nit_text(x), '-', 1), '0'), '')
    end
);

-- The DV written after a dash, if any.
create or replace macro fi_nit_dv_given(x) as (
    try_cast(nullif(split_part(fi_nit_text(x), '-', 2), '') as integer)
);

-- DIAN modulus-11 verification digit of a digits-only NIT.
create or replace macro fi_nit_dv_remainder(n) as (
    list_sum(
        list_transform(
            range(length(n)),
            lambda i: cast(substr(n, length(n) - i::int, 1) as int)
            * [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71][i + 1]
        )
    ) % 11
);

create or replace macro fi_nit_dv(n) as (
    case
        when fi_nit_dv_remainder(n) < 2 then fi_nit_dv_remainder(n)
        else 11 - fi_nit_dv_remainder(n)
    end
);

-- CIIU class and DANE codes lose leading zeros when exported as numbers.
create or replace macro fi_code(x, width) as (
    case
        when
            regexp_full_match(trim(x), '\d+(\.0+)?')
            and length(split_part(trim(x), '.', 1)) <= width
            then lpad(split_part(trim(x), '.', 1), width, '0')
    end
);
