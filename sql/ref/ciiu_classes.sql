-- DANE's CIIU Rev.4 A.C. classes with their section, division and group.
create or replace table ref.ciiu_classes as
select
    section as ciiu_section,
    section_name,
    division,
    division_name,
    "group" as ciiu_group,
    group_name,
    class as ciiu,
    class_name
from read_csv($path, header = true, all_varchar = true);
