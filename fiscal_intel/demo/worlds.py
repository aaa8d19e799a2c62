"""The demo's worlds: municipalities built on different assumptions, to judge whether the lists
generalise (``fiscal-intel demo --world NAME``).

``rionegro`` is the original demo (the generator's module constants, byte-identical files).
``llanura`` changes what the first world takes for granted; its proportions are ours, chosen
before any model was tuned on it:

- **Heavy size tails**: a Student-t (3 degrees of freedom, scale 0.55) shock on every
  non-micro business's log income, so a few firms dwarf their band (in the first world sizes
  are log-normal within four bands).
- **Cash sectors without third-party evidence**: natural persons in retail (47), food service
  (56), personal services (96) and food products (10) are never paid by reteICA agents; 40 % of
  them hide 35-70 % of their income every year (the registry still shows their assets and
  staff at their true size).
- **Contractors registered elsewhere**: 3 % more entities (per RIT entity) with no RIT and no
  local chamber record, operating all period, paid by one or two of the three largest
  withholding agents (the municipality and large buyers) for 50-95 % of their income: they
  owe ICA here and never file.
- **Fragmented businesses**: 10 % of the cash-sector natural persons are pieces of 2-4-NIT
  businesses (same activity and surnames, registered within three months, one income split
  between them); every piece hides 40-70 % of its share.
- **A form that spreads after the audited years**: in the last two tax years 8 % then 20 % of
  the honest natural persons and micro/small companies start claiming 25-55 % of their income
  as exempt (deductions): no closed audit shows it.
- **Audits aimed at the largest**: staff weight size three times as much as in the first
  world (inexacto 1.5 x log income, omiso 1.0 x log assets); 2 % of audits are random (10 %
  in the first world).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """What makes a demo municipality: the defaults are the first world (``rionegro``)."""

    name: str = "rionegro"
    # Heavy tails: a Student-t shock (degrees of freedom, scale) on non-micro log incomes.
    tail_df: float | None = None
    tail_scale: float = 0.0
    # Cash sectors: divisions whose natural persons have no third-party evidence.
    cash_divisions: tuple[str, ...] = ()
    cash_evader_p: float = 0.0
    cash_hide: tuple[float, float] = (0.35, 0.70)  # share of income hidden, uniform
    # Contractors registered elsewhere, per RIT entity.
    contractor_share: float = 0.0
    # Share of cash-sector natural persons that are pieces of fragmented businesses.
    fragment_share: float = 0.0
    # A new evasion form in the last len(spread_p) tax years: adoption among honest filers.
    spread_p: tuple[float, ...] = ()
    # Audit selection: random share and the weight of size in staff's picks.
    random_audit_share: float = 0.10
    audit_size_inexacto: float = 0.5
    audit_size_omiso: float = 0.35
    # A department's municipalities (demo/department.py): how many audits the office made (a
    # factor on the generator's audit rates), how common evaders are (a factor on the share of
    # evaders per size band, capped at 0.9) and its sector mix (CIIU section letter -> a factor
    # on the share of businesses in that section).
    audit_rate: float = 1.0
    evader_rate: float = 1.0
    section_weights: tuple[tuple[str, float], ...] = ()

    @property
    def is_default(self) -> bool:
        return self == World()

    @property
    def plants_forms(self) -> bool:
        """Whether the world plants the llanura forms (tails, cash sectors, contractors,
        fragments), which draw on their own random stream."""
        return bool(
            self.tail_df or self.cash_divisions or self.contractor_share or self.fragment_share
        )


WORLDS: dict[str, World] = {
    "rionegro": World(),
    "llanura": World(
        name="llanura",
        tail_df=3.0,
        tail_scale=0.55,
        cash_divisions=("47", "56", "96", "10"),
        cash_evader_p=0.40,
        contractor_share=0.03,
        fragment_share=0.10,
        spread_p=(0.08, 0.20),
        random_audit_share=0.02,
        audit_size_inexacto=1.5,
        audit_size_omiso=1.0,
    ),
}
