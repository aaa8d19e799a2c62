-- DANE's CIIU Rev.4 A.C. classes with their section, division and group: the ciiu.co list plus
-- the classes it lacks (groups 103 and 321, from the RUES list), edition 'current'; and the 2012
-- edition's codes that real exports still carry, edition '2012', each under its successor's
-- section, division and group (ref/ciiu_2012_crosswalk.csv; current_ciiu says which class).
create or replace table ref.ciiu_classes as
with current_classes as (
    select
        section as ciiu_section,
        section_name,
        division,
        division_name,
        "group" as ciiu_group,
        group_name,
        class as ciiu,
        class_name
    from read_csv([$path, $added], header = true, all_varchar = true, union_by_name = true)
),

crosswalk as (
    select
        ciiu_2012,
        description_2012,
        ciiu
    from read_csv($crosswalk, header = true, all_varchar = true)
    where ciiu is not null
)

select
    *,
    'current' as edition,
    ciiu as current_ciiu
from current_classes
union all
select
    k.ciiu_section,
    k.section_name,
    k.division,
    k.division_name,
    k.ciiu_group,
    k.group_name,
    x.ciiu_2012 as ciiu,
    x.description_2012 as class_name,
    '2012' as edition,
    x.ciiu as current_ciiu
from crosswalk as x
inner join current_classes as k on x.ciiu = k.ciiu;
