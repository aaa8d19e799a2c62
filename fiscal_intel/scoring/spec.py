"""What a scoring program is, in one object: :class:`ProgramSpec`.

Each program (``scoring/programs/omiso.py``, ``inexacto.py``) declares one spec: the feature
columns its model reads from ``features.<program>_features``, the evidence whose direction is
known (monotone constraints), the features only the amount model sees, the reason families that
explain its cases, what its amount model learns from and which columns are its labels. The
training, ranking and reason code reads everything about a program from here, so adding a
feature is one line in the program's file (and its column in the feature SQL), and
:meth:`ProgramSpec.problems` (tested) refuses a feature no reason family explains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fiscal_intel.scoring.phrases import Phrase, Row

# A reason family: the function writing its phrases for one case, and the features it groups
# (their contributions are summed to rank the family for that case).
Family = tuple[Callable[[Row], list[Phrase]], tuple[str, ...]]


@dataclass(frozen=True)
class AmountSpec:
    """What the amount model learns from.

    ``rows`` picks its training rows (``"audits"``: adjusted audits; ``"all"``: every row of the
    feature table with a positive target), ``target`` the column it predicts, and ``base`` an
    optional column the target is divided by: learning assessed / potential tax instead of the
    raw amount lets a few hundred audits generalise across firms a thousand times apart in size.
    ``blind`` names features to hide on a second copy of the training rows (value to put
    instead), so the model also learns to predict without them.
    """

    rows: str = "audits"
    target: str = "label_amount"
    base: str | None = None
    blind: tuple[tuple[str, float | None], ...] = ()
    # At most this many rows (before the blind copy), a hash sample (``hash_sample``): a
    # log-scale amount learnt from tens of thousands of filers does not improve with millions,
    # while its training time grows with every row.
    max_rows: int | None = None
    # Regressions averaged on the log scale, each with its own seed (see the omiso spec).
    members: int = 1


@dataclass(frozen=True)
class Labels:
    """The columns of the feature table that hold a closed audit's outcome."""

    adjusted: str = "label_adjusted"  # the audit found tax due (NULL: not audited)
    amount: str = "label_amount"  # the tax it assessed
    closed_on: str = "audit_closed_on"  # when it closed: the training window ends on the as-of
    selection: str = "audit_selection"  # 'random' or 'risk': how staff picked it


@dataclass(frozen=True)
class ProgramSpec:
    """One scoring program: everything the model, the ranking and the reasons need to know."""

    name: str
    # The model's columns of features.<name>_features, in matrix order (a stored model trained
    # on another list is refused: the order is part of the model).
    features: tuple[str, ...]
    # Evidence whose direction is known: +1 can only raise P(finding), -1 only lower it.
    monotone: Mapping[str, int]
    # Features only the amount model uses (the classifiers get zero split gain on them).
    amount_only: frozenset[str]
    # Reason families, in the order ties are broken: name -> (phrases, features).
    families: Mapping[str, Family]
    amount: AmountSpec
    labels: Labels = field(default_factory=Labels)
    # Hidden on the late-filing rows, with the value put instead (see model.LATE_FILING_BLIND);
    # None: the program has no late-filing part.
    late_filing_blind: tuple[tuple[str, float | None], ...] | None = None
    # Evidence scored without labels (issue #20): a feature holding the tax that evidence alone
    # says is owed. The ranking takes the larger of the model's expected recovery and this tax
    # times the evidence's hit rate on the random audits (``model.evidence_hit_rate``) or the
    # model's own probability for the case, whichever is higher, and the case's reasons then
    # open with the family holding it.
    evidence: str | None = None
    # The rows staff could have audited (SQL condition on the feature table, issue #20): the
    # population the selection correction (``model.selection_weights``) estimates who was
    # picked from. Every row of the table when None.
    population: str | None = None
    # Whether the program's classifiers learn with the selection correction (see
    # ``model.SELECTION_CORRECTION``; the program's spec says why when not).
    selection_correction: bool = True
    # Corroboration (issue #20, precision where money ranks): features holding the tax that
    # current, independent witnesses imply (the registry's assets and staff, third parties'
    # payments). The ranking counts the predicted amount at most ``corroboration_multiple``
    # times the largest of them, when any saw something (positive): an amount the witnesses
    # of today contradict rests on size alone (a past return, a large band), and must not
    # outrank a case they support. None of them seen: the amount stands.
    corroboration: tuple[str, ...] = ()
    corroboration_multiple: float = 3.0
    # The multiple learnt from the municipality's own returns instead (``None``: the one above):
    # this quantile, over the amount model's rows that a witness saw, of what the return
    # declared over the largest tax its witnesses imply (``model.learnt_corroboration_multiple``;
    # ``corroboration_multiple`` when too few rows show both). Filers rarely declare more than
    # that multiple of what their witnesses show, so a non-filer's amount is not counted above it.
    corroboration_quantile: float | None = None
    # Witnessed amounts (issue #20, requirement 4): features holding the tax that the case's
    # own evidence says is missing (third parties, the return's lines against peers, the
    # registry, linked NITs). The part of the predicted amount above the largest of them is
    # what the amount model extrapolates from the firm's size and history alone; the ranking
    # counts it at the case's probability (``ranking.witnessed_amount``): a case whose money
    # rests on its size with weak evidence does not outrank a solid one, while a likely case
    # keeps nearly all of it. Empty: the whole amount counts.
    amount_witnesses: tuple[str, ...] = ()
    # Amount floor (issue #20, round 4): a column of the feature table (not a model feature)
    # holding a tax the office itself established for the same business in another year (an
    # audit's assessment), and the column holding that year. The ranking counts the amount at
    # least this much, above the corroboration cap (``ranking.amount_floor``): what an audit
    # measured is not size alone. None: no floor.
    amount_floor: str | None = None
    amount_floor_year: str | None = None
    # Whether the municipality's classifiers are extremely randomised trees (LightGBM
    # ``extra_trees``: each feature tried at one random threshold, the best of those taken,
    # instead of its best threshold; issue #20, round 5). With a few hundred labels the best
    # cuts follow the noise of which audits found something; random cuts average into a
    # smoother probability. Measured for inexacto: the gain is in the open years of firms
    # audited before (the comparisons with the years found under-reported), not in
    # never-audited ones (docs/targeting.md, round 5). No program uses it since round 6: on
    # eighteen fresh seeds it bought no recovery and cost precision (programs/inexacto.py).
    extra_trees: bool = False

    @property
    def table(self) -> str:
        return f"features.{self.name}_features"

    @property
    def feature_list(self) -> list[str]:
        return list(self.features)

    @property
    def evidence_family(self) -> str | None:
        """The reason family that holds the label-free evidence."""
        for family, (_, members) in self.families.items():
            if self.evidence in members:
                return family
        return None

    @property
    def late_filing(self) -> bool:
        return self.late_filing_blind is not None

    def problems(self) -> list[str]:
        """What is inconsistent in the spec (empty when nothing): a feature no reason family
        explains (it would silently never appear in the reasons), a family, constraint,
        amount-only or hidden name that is not a feature, a feature listed twice."""
        out = []
        features = set(self.features)
        if len(features) != len(self.features):
            seen: set[str] = set()
            twice = sorted({f for f in self.features if f in seen or seen.add(f)})
            out.append(f"{self.name}: listed twice: {', '.join(twice)}")
        explained: dict[str, str] = {}
        for family, (_, members) in self.families.items():
            for m in members:
                if m not in features:
                    out.append(f"{self.name}.{family}: names {m!r}, not a feature")
                if m in explained:
                    out.append(f"{self.name}: {m!r} in families {explained[m]} and {family}")
                explained.setdefault(m, family)
        for f in self.features:
            if f not in explained:
                out.append(f"{self.name}: feature {f!r} has no reason family")
        if self.evidence is not None and self.evidence not in explained:
            out.append(f"{self.name}.evidence: {self.evidence!r} is not an explained feature")
        for what, names in (
            ("monotone", set(self.monotone)),
            ("amount_only", set(self.amount_only)),
            ("amount.blind", {n for n, _ in self.amount.blind}),
            ("late_filing_blind", {n for n, _ in self.late_filing_blind or ()}),
            ("corroboration", set(self.corroboration)),
            ("amount_witnesses", set(self.amount_witnesses)),
        ):
            out += [f"{self.name}.{what}: {n!r} is not a feature" for n in sorted(names - features)]
        q = self.corroboration_quantile
        if q is not None and not (self.corroboration and 0 < q < 1):
            out.append(
                f"{self.name}.corroboration_quantile: {q!r} needs witnesses and lies in (0, 1)"
            )
        return out
