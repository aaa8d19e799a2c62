-- ICA business rules, each defined once and named (the features quote them in several places).

-- The tax an income base owes at a rate per thousand, with the avisos y tableros surcharge
-- (15 % of the ICA tax, form line 21) that nearly every commercial filer adds. The features use
-- it to turn an income gap into the tax it would have brought.
create or replace macro fi_ica_with_avisos(base, rate_per_mil) as
base * rate_per_mil / 1000 * 1.15;
