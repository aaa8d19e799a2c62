-- Tax secrecy (ET art. 583) rules shared by the leadership marts; the thresholds are settings
-- (min_cell_taxpayers, dominance_p_percent, secrecy_rounding_cop), see the README's "Tax secrecy".

-- The p % dominance rule, as statistical offices apply it to magnitude tables: a cell is
-- sensitive when the second-largest contributor, subtracting its own share from the published
-- total, could estimate the largest one within p %, i.e. when what the other contributors add
-- is less than p % of the largest. top1 and top2 are the two largest contributions (top2 null
-- when there is one contributor, which is always sensitive).
create or replace macro fi_dominated(total, top1, top2, p) as
coalesce(total - top1 - coalesce(top2, 0) < p / 100.0 * top1, false);

-- A published amount: rounded to a multiple of the rounding base, so that two releases that
-- differ by one late payment smaller than the base mostly show the same figure, and never show
-- the payment to the peso.
create or replace macro fi_published(x, base) as round(x / base) * base;
