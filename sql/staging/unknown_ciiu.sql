-- Activity codes that are not a class of DANE's current CIIU Rev.4 A.C. list, one row per
-- source, column and code: how many current rows carry it and a few NITs to look at. status
-- 'translated': a 2012-edition code mapped to its successor (translated_to) through
-- ref/ciiu_2012_crosswalk.csv, so it takes that class's section and default rate; 'unknown': in
-- no list, or a 2012 code without a known successor. The rows stay loaded (the code is what the
-- taxpayer or the office wrote); this table is the flag a data engineer follows up, and
-- features treat an unknown code as having no section.
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
    -- The shipped default lists 2012 codes under their successor's rate: only the
    -- municipality's own table can carry a code worth flagging.
    where rate_source = 'municipal'
)

select
    c.source,
    c.source_column,
    c.ciiu,
    case when k.ciiu is null then 'unknown' else 'translated' end as status,
    k.current_ciiu as translated_to,
    count(*) as rows,
    list_sort(list_distinct(list(c.nit)))[1:5] as example_nits
from codes as c
left join ref.ciiu_classes as k on c.ciiu = k.ciiu
where c.ciiu is not null and (k.ciiu is null or k.edition <> 'current')
group by c.source, c.source_column, c.ciiu, k.ciiu, k.current_ciiu
order by c.source, c.source_column, c.ciiu;
