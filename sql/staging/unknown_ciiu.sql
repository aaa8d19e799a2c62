-- Activity codes that are not a class of CIIU Rev.4 A.C. (DANE's list in ref.ciiu_classes),
-- one row per source, column and code: how many current rows carry it and a few NITs to look
-- at. The rows stay loaded (the code is what the taxpayer or the office wrote); this table is
-- the flag a data engineer follows up, and features treat the code as having no section.
create or replace table staging.unknown_ciiu as
with codes as (
    select
        'taxpayers' as source,
        'ciiu' as source_column,
        ciiu,
        nit
    from staging.stg_taxpayers
    union all
    select
        'declarations' as source,
        'ciiu' as source_column,
        ciiu,
        nit
    from staging.stg_declarations
    union all
    select
        'commerce_registry' as source,
        'ciiu' as source_column,
        ciiu,
        nit
    from staging.stg_commerce_registry
    union all
    select
        'commerce_registry' as source,
        'ciiu_secondary' as source_column,
        ciiu_secondary as ciiu,
        nit
    from staging.stg_commerce_registry
    union all
    select
        'ciiu_rates' as source,
        'ciiu' as source_column,
        ciiu,
        null as nit
    from staging.stg_ciiu_rates
)

select
    c.source,
    c.source_column,
    c.ciiu,
    count(*) as rows,
    list_sort(list_distinct(list(c.nit)))[1:5] as example_nits
from codes as c
anti join ref.ciiu_classes as k on c.ciiu = k.ciiu
where c.ciiu is not null
group by c.source, c.source_column, c.ciiu
order by c.source, c.source_column, c.ciiu;
