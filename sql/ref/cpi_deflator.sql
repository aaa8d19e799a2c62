-- Colombia's consumer price index (DANE IPC): the published December-over-December inflation
-- and a December index level chained from it (base December 2018 = 100), to deflate pesos.
create or replace table ref.cpi_deflator as
select
    cast(year as integer) as year,
    cast(inflation_dec_pct as double) as inflation_dec_pct,
    cast(cpi_dec as double) as cpi_dec
from read_csv($path, header = true, all_varchar = true)
order by year;
