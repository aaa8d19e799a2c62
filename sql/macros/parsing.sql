-- Value parsers shared by every loader. Each returns NULL when the text cannot be read, so the
-- loader can say why a row is quarantined. They mirror fiscal_intel/ingest/values.py and
-- fiscal_intel/ingest/nit.py; property tests (tests/test_values.py) keep the two in step.
-- Plain expressions only (no subqueries): macros are inlined into every loader query.
-- Spaces are ASCII whitespace plus the no-break space (chr 160) spreadsheets write; DuckDB's own
-- trim() strips a different set, so fi_trim() says exactly which.

-- Each parser starts with a branch for the canonical spelling (plain digits, ISO dates), checked
-- by one regular expression on the text as read: the loader types tens of millions of values, and
-- the general branches (trimming, replacing, several patterns) cost ~10x more per value. The
-- fast branches return exactly what the general ones would for the values they accept.

-- Each parser fi_<kind>(x) is also written in parts, which it is made of:
-- fi_<kind>_is_plain(x) (the canonical spelling?), fi_<kind>_plain(x) (its value),
-- fi_<kind>_clean(x) (the text the general branches read) and fi_<kind>_general(t) (those
-- branches over that text). A macro is inlined with a copy of its argument at every use, so
-- fi_money(x) alone is ten copies of fi_money_text(x); the loader computes each part once, as a
-- column of its own (loader.typed_select), and DuckDB binds and optimizes a query a fraction of
-- the size (most of a small file's load time was planning that query, not reading rows).

-- trim() with a set of characters is ~3x slower than a regular expression that finds nothing to
-- trim, which is the common case.
create or replace macro fi_trim(x) as (
    case
        when regexp_matches(x, '^[ \t\n\v\f\r\x{A0}]|[ \t\n\v\f\r\x{A0}]$')
            then trim(x, chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160))
        else x
    end
);

create or replace macro fi_text(x) as nullif(fi_trim(x), '');

create or replace macro fi_money_text(x) as regexp_replace(x, '[ \t\n\r\f\v\x{A0}$]', '', 'g');

-- Money: 1234567 | 1234567.00 | 1.234.567 | 1.234.567,00 | 1234567,5 | $ 1,234,567.00
-- A dot or comma followed by groups of exactly three digits separates thousands (whole pesos);
-- a comma followed by one or two digits is the decimal mark; anything else is not read.
create or replace macro fi_money_is_plain(x) as regexp_full_match(x, '-?\d{1,16}(\.\d{1,2})?');

create or replace macro fi_money_plain(x) as cast(x as decimal(18, 2));

create or replace macro fi_money_clean(x) as fi_money_text(x);

create or replace macro fi_money_general(t) as (
    case
        when regexp_full_match(t, '-?\d+(\.\d{1,2})?') then try_cast(t as decimal(18, 2))
        when regexp_full_match(t, '-?\d{1,3}(\.\d{3})+(,\d+)?')
            then try_cast(replace(replace(t, '.', ''), ',', '.') as decimal(18, 2))
        when regexp_full_match(t, '-?\d{1,3}(,\d{3})+(\.\d+)?')
            then try_cast(replace(t, ',', '') as decimal(18, 2))
        when regexp_full_match(t, '-?\d+,\d{1,2}') then try_cast(replace(t, ',', '.') as decimal(18, 2))
        when regexp_full_match(t, '-?\d+\.\d+') then try_cast(t as decimal(18, 2))
    end
);

create or replace macro fi_money(x) as (
    case
        when fi_money_is_plain(x) then fi_money_plain(x)
        else fi_money_general(fi_money_clean(x))
    end
);

create or replace macro fi_number_text(x) as regexp_replace(x, '[ \t\n\r\f\v\x{A0}]', '', 'g');

-- Plain numbers (rates): a comma is the decimal mark when present.
create or replace macro fi_number_is_plain(x) as regexp_full_match(x, '-?\d{1,15}(\.\d{1,15})?');

create or replace macro fi_number_plain(x) as cast(x as double);

create or replace macro fi_number_clean(x) as fi_number_text(x);

create or replace macro fi_number_general(t) as (
    case
        when regexp_full_match(t, '-?\d+(\.\d+)?') then try_cast(t as double)
        when regexp_full_match(t, '-?\d+(\.\d{3})*,\d+')
            then try_cast(replace(replace(t, '.', ''), ',', '.') as double)
    end
);

create or replace macro fi_number(x) as (
    case
        when fi_number_is_plain(x) then fi_number_plain(x)
        else fi_number_general(fi_number_clean(x))
    end
);

-- Integers; spreadsheets write whole numbers as 2023.0.
create or replace macro fi_int_is_plain(x) as regexp_full_match(x, '-?\d{1,18}');

create or replace macro fi_int_plain(x) as cast(x as bigint);

create or replace macro fi_int_clean(x) as fi_trim(x);

create or replace macro fi_int_general(t) as (
    case
        when regexp_full_match(t, '-?\d{1,18}') then try_cast(t as bigint)
        when regexp_full_match(t, '-?\d{1,18}\.0+') then try_cast(split_part(t, '.', 1) as bigint)
    end
);

create or replace macro fi_int(x) as (
    case
        when fi_int_is_plain(x) then fi_int_plain(x)
        else fi_int_general(fi_int_clean(x))
    end
);

-- Dates: ISO (2023-04-30, 2023/04/30) or day first (30/04/2023, 30-04-2023, 30.04.2023), the
-- year always four digits; a time of day after the date is ignored. The date must exist.
create or replace macro fi_date_time_suffix() as (
    '(?:[ T]+(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?: ?[aApP]\.? ?[mM]\.?)?)?'
);

create or replace macro fi_date_iso() as (
    '^([1-9]\d{3})[-/](\d{1,2})[-/](\d{1,2})' || fi_date_time_suffix() || '$'
);

create or replace macro fi_date_day_first() as (
    '^(\d{1,2})[/.-](\d{1,2})[/.-]([1-9]\d{3})' || fi_date_time_suffix() || '$'
);

-- RUES open data and fixed-width exports: 8 digits, year first (19820531).
create or replace macro fi_date_compact() as (
    '^([1-9]\d{3})(\d{2})(\d{2})' || fi_date_time_suffix() || '$'
);

create or replace macro fi_date_is_plain(x) as regexp_full_match(x, '[1-9]\d{3}-\d{2}-\d{2}');

create or replace macro fi_date_plain(x) as try_cast(x as date);

create or replace macro fi_date_clean(x) as fi_trim(x);

create or replace macro fi_date_general(t) as (
    case
        when regexp_matches(t, fi_date_iso())
            then try(make_date(
                regexp_extract(t, fi_date_iso(), 1)::int,
                regexp_extract(t, fi_date_iso(), 2)::int,
                regexp_extract(t, fi_date_iso(), 3)::int
            ))
        when regexp_matches(t, fi_date_day_first())
            then try(make_date(
                regexp_extract(t, fi_date_day_first(), 3)::int,
                regexp_extract(t, fi_date_day_first(), 2)::int,
                regexp_extract(t, fi_date_day_first(), 1)::int
            ))
        when regexp_matches(t, fi_date_compact())
            then try(make_date(
                regexp_extract(t, fi_date_compact(), 1)::int,
                regexp_extract(t, fi_date_compact(), 2)::int,
                regexp_extract(t, fi_date_compact(), 3)::int
            ))
    end
);

create or replace macro fi_date(x) as (
    case
        when fi_date_is_plain(x) then fi_date_plain(x)
        else fi_date_general(fi_date_clean(x))
    end
);

-- NIT: dots and commas group digits; spaces may surround the dash before the DV, not sit
-- inside the digits (900123456 7 could be a DV or a typo).
create or replace macro fi_nit_text(x) as regexp_replace(
    regexp_replace(fi_trim(coalesce(x, '')), '[ \t\n\r\f\v\x{A0}]*-[ \t\n\r\f\v\x{A0}]*', '-', 'g'),
    '[.,]',
    '',
    'g'
);

-- NIT: digits only, no DV, no leading zeros (fixed-width exports pad with zeros; up to 15
-- significant digits). NULL when the text is not a NIT.
create or replace macro fi_nit_body_is_plain(x) as regexp_full_match(x, '[1-9]\d{0,14}');

create or replace macro fi_nit_body_plain(x) as x;

create or replace macro fi_nit_clean(x) as fi_nit_text(x);

create or replace macro fi_nit_body_general(t) as (
    case
        when regexp_full_match(t, '0*\d{1,15}(-\d)?') then nullif(ltrim(split_part(t, '-', 1), '0'), '')
    end
);

create or replace macro fi_nit_body(x) as (
    case
        when fi_nit_body_is_plain(x) then fi_nit_body_plain(x)
        else fi_nit_body_general(fi_nit_clean(x))
    end
);

-- The DV written after a dash, if any.
-- Its plain spelling (digits only, implied by fi_nit_body_is_plain) has no DV.
create or replace macro fi_nit_dv_given_is_plain(x) as regexp_full_match(x, '\d{1,15}');

create or replace macro fi_nit_dv_given_general(t) as (
    case
        when regexp_full_match(t, '0*\d{1,15}-\d') then cast(split_part(t, '-', 2) as integer)
    end
);

create or replace macro fi_nit_dv_given(x) as (
    case
        when fi_nit_dv_given_is_plain(x) then null
        else fi_nit_dv_given_general(fi_nit_clean(x))
    end
);

-- Sources that glue the DV onto the NIT (mapping [nit] dv_suffix = true): 8090031820 is NIT
-- 809003182 with DV 0. A DV written after a dash still counts as written.
create or replace macro fi_nit_suffix_body(x) as (
    case
        when fi_nit_dv_given(x) is not null then fi_nit_body(x)
        when length(fi_nit_body(x)) >= 2 then left(fi_nit_body(x), length(fi_nit_body(x)) - 1)
    end
);

create or replace macro fi_nit_suffix_dv(x) as (
    case
        -- no DV without a NIT body (`0-0`), as the Python parser says
        when fi_nit_dv_given(x) is not null and fi_nit_body(x) is not null
            then fi_nit_dv_given(x)
        when length(fi_nit_body(x)) >= 2 then cast(right(fi_nit_body(x), 1) as integer)
    end
);

-- DIAN modulus-11 verification digit of a digits-only NIT: the digits from the right weighted
-- 3, 7, 13, 17, ... 71. Integer arithmetic, not a list lambda: the loader checks every row's DV
-- and the lambda form cost ~100 µs a row.
create or replace macro fi_nit_dv_remainder(n) as (
    (
        (n::bigint % 10) * 3
        + (n::bigint // 10 % 10) * 7
        + (n::bigint // 100 % 10) * 13
        + (n::bigint // 1000 % 10) * 17
        + (n::bigint // 10000 % 10) * 19
        + (n::bigint // 100000 % 10) * 23
        + (n::bigint // 1000000 % 10) * 29
        + (n::bigint // 10000000 % 10) * 37
        + (n::bigint // 100000000 % 10) * 41
        + (n::bigint // 1000000000 % 10) * 43
        + (n::bigint // 10000000000 % 10) * 47
        + (n::bigint // 100000000000 % 10) * 53
        + (n::bigint // 1000000000000 % 10) * 59
        + (n::bigint // 10000000000000 % 10) * 67
        + (n::bigint // 100000000000000 % 10) * 71
    ) % 11
);

-- The same remainder as one dot product of the digits (the rightmost 15, as above) with the
-- weights: a much shorter expression to plan, ~3x dearer per row, so the loader uses it for
-- small batches only (loader.LISTED_DV_ROWS).
create or replace macro fi_nit_dv_remainder_listed(n) as (
    list_dot_product(
        string_split(right('000000000000000' || n::bigint::varchar, 15), '')::double[],
        [71, 67, 59, 53, 47, 43, 41, 37, 29, 23, 19, 17, 13, 7, 3]::double[]
    )::bigint % 11
);

-- The DV from the remainder (the loader computes the remainder once, as a column).
create or replace macro fi_nit_dv_of_remainder(r) as (case when r < 2 then r else 11 - r end);

create or replace macro fi_nit_dv(n) as fi_nit_dv_of_remainder(fi_nit_dv_remainder(n));

-- CIIU class and DANE codes lose leading zeros when exported as numbers.
create or replace macro fi_code(x, width) as (
    case
        when length(x) = width and regexp_full_match(x, '\d+') then x
        when
            regexp_full_match(fi_trim(x), '\d+(\.0+)?')
            and length(split_part(fi_trim(x), '.', 1)) <= width
            then lpad(split_part(fi_trim(x), '.', 1), width, '0')
    end
);

-- An activity code as registries write it: the class, maybe after its section letter and maybe
-- followed by its description ("G4711 - Comercio al por menor ...", "4711 Comercio"). The
-- description must not start with a digit, so 4711-5 is not read as 4711.
create or replace macro fi_ciiu_pattern() as (
    '^(?:[A-Ua-u][ \t]*)?(\d{1,4})(?:\.0+)?'
    || '(?:(?:[ \t]*[-:.,][ \t]*|[ \t]+)[^0-9 \t\r\n.,:-][^\r\n]*)?$'
);

create or replace macro fi_ciiu_is_plain(x) as length(x) = 4 and regexp_full_match(x, '\d+');

create or replace macro fi_ciiu_plain(x) as x;

create or replace macro fi_ciiu_clean(x) as fi_trim(x);

create or replace macro fi_ciiu_general(t) as (
    case
        when regexp_matches(t, fi_ciiu_pattern())
            then lpad(regexp_extract(t, fi_ciiu_pattern(), 1), 4, '0')
    end
);

create or replace macro fi_ciiu(x) as (
    case
        when fi_ciiu_is_plain(x) then fi_ciiu_plain(x)
        else fi_ciiu_general(fi_ciiu_clean(x))
    end
);

-- A place name reduced to what identifies it: upper case, no accents, no punctuation
-- ("Rionegro - Antioquia" = "RIONEGRO ANTIOQUIA"); mirrors fiscal_intel/ingest/places.py.
create or replace macro fi_place_key(x) as nullif(
    trim(regexp_replace(upper(strip_accents(coalesce(x, ''))), '[^A-Z0-9]+', ' ', 'g')), ''
);

-- An enum value compared without case, accents or repeated spaces ("Persona  Jurídica").
create or replace macro fi_enum_key(x) as nullif(
    regexp_replace(lower(strip_accents(fi_trim(x))), '[ \t\n\r\f\v\x{A0}_]+', ' ', 'g'), ''
);

-- A legal name reduced to what identifies it: upper case, no accents, no punctuation, legal
-- forms spelt one way ("Ferretería Peña S.A.S." = "FERRETERIA PENA SAS"). Used to match chamber
-- registrations without NIT to the RIT; two names with the same key are the same name.
create or replace macro fi_name_key(x) as nullif(
    trim(regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    regexp_replace(
                        regexp_replace(
                            upper(strip_accents(replace(coalesce(x, ''), '&', ' Y '))),
                            '[.]', '', 'g'
                        ),
                        '[^A-Z0-9]+', ' ', 'g'
                    ),
                    '\bSOCIEDAD POR ACCIONES SIMPLIFICADA\b', 'SAS', 'g'
                ),
                '\bSOCIEDAD ANONIMA\b', 'SA', 'g'
            ),
            '\bLIMITADA\b', 'LTDA', 'g'
        ),
        '\bCOMPANIA\b', 'CIA', 'g'
    )),
    ''
);
