"""A synthetic department: one larger city and several small municipalities.

A wrapper over the municipality generator (``fiscal_intel.demo.generator.generate``): each
municipality is that generator run with its own DANE code, size, seed and world, written to
``<landing>/<code>/`` with its planted truth in ``<truth>/<code>/``. Sizes are drawn from the
department seed, so the same seed always gives the same department.

The largest municipality (the city) is the base world: an office with a full audit history.
Each smaller one gets its own world (:func:`small_world`, drawn from its seed): its own sector
mix, an office that audited less (many have fewer than 50 closed audits per program: the case
pooled learning is for, issue #19) and its own share of evaders, so that what one office learns
does not transfer to another for free.
"""

from __future__ import annotations

import random
from pathlib import Path

from fiscal_intel.demo.generator import DemoSummary, generate
from fiscal_intel.demo.worlds import World

# Antioquia: Rionegro as the city, then municipalities of the east and the Valle de Aburrá.
ANTIOQUIA = (
    "05615", "05002", "05021", "05030", "05031", "05034", "05036", "05038", "05040", "05042",
    "05044", "05045", "05051", "05055", "05059", "05079", "05086", "05088", "05091", "05093",
    "05101", "05107", "05113", "05120", "05125", "05129", "05134", "05138", "05142", "05145",
)  # fmt: skip


def department_plan(
    municipalities: int = 21,
    *,
    city_taxpayers: int = 15_000,
    small: tuple[int, int] = (300, 3_000),
    seed: int = 19,
) -> list[tuple[str, int, int]]:
    """``(dane code, taxpayers, seed)`` per municipality: the first is the city, the others
    draw a size in ``small`` (log-uniform: most offices are small)."""
    if not 1 <= municipalities <= len(ANTIOQUIA):
        raise ValueError(f"municipalities must be between 1 and {len(ANTIOQUIA)}")
    rng = random.Random(seed)
    low, high = small
    plan = [(ANTIOQUIA[0], city_taxpayers, seed * 1000)]
    for i, code in enumerate(ANTIOQUIA[1:municipalities], start=1):
        size = int(round(low * (high / low) ** rng.random()))
        plan.append((code, size, seed * 1000 + i))
    return plan


# Sections whose share a small municipality's economy moves most: farming, manufacturing,
# commerce, transport, hotels and restaurants, finance, professional services, other services.
VARIED_SECTIONS = ("A", "C", "G", "H", "I", "K", "M", "S")
# The audit rate of a small office, as a factor on the city's: log-uniform in this range.
AUDIT_RATE_RANGE = (0.12, 0.8)
# The share of evaders, as a factor on the city's: uniform in this range.
EVADER_RATE_RANGE = (0.6, 1.5)


def small_world(code: str, seed: int) -> World:
    """A small municipality's world, from its seed: sector mix (each of ``VARIED_SECTIONS``
    weighted by a log-uniform factor in 1/4-4), audit rate and evader rate."""
    rng = random.Random(seed * 7919 + 19)
    low, high = AUDIT_RATE_RANGE
    weights = tuple((s, round(4.0 ** rng.uniform(-1.0, 1.0), 3)) for s in VARIED_SECTIONS)
    return World(
        name=f"department-{code}",
        audit_rate=round(low * (high / low) ** rng.random(), 3),
        evader_rate=round(rng.uniform(*EVADER_RATE_RANGE), 3),
        section_weights=weights,
    )


def department_worlds(plan: list[tuple[str, int, int]]) -> dict[str, World]:
    """The world of each municipality of ``plan``: the largest (the city; the first of equals)
    is the base world, every other one its :func:`small_world`."""
    city = max(plan, key=lambda m: m[1])[0] if plan else None
    return {code: World() if code == city else small_world(code, seed) for code, _, seed in plan}


def generate_department(
    landing: Path, truth: Path, plan: list[tuple[str, int, int]], *, varied: bool = True
) -> dict[str, DemoSummary]:
    """Write each municipality of ``plan`` to ``landing/<code>/`` (truth to ``truth/<code>/``);
    ``varied``: each in its world (:func:`department_worlds`), else all in the base world."""
    worlds = department_worlds(plan) if varied else {code: World() for code, _, _ in plan}
    out = {}
    for code, taxpayers, seed in plan:
        out[code] = generate(
            Path(landing) / code, Path(truth) / code, taxpayers=taxpayers, seed=seed,
            municipality=code, world=worlds[code],
        )  # fmt: skip
    return out
