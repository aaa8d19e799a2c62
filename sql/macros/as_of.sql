-- The date a computation reasons from, one rule: the as_of parameter when one is given (a run
-- passes the as_of setting; the backtest computes the features as of its cut-off), else the
-- date derived from the data (staging.as_of_date). An empty parameter means "not given". The
-- caller passes the fallback, so that the table it reads stays in its own SQL (lineage).
create or replace macro fi_as_of(given, fallback) as
coalesce(try_cast(nullif(given, '') as date), fallback);
