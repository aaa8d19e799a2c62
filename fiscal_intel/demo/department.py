"""A synthetic department: one larger city and several small municipalities.

A wrapper over the municipality generator (``fiscal_intel.demo.generator.generate``), which it
does not change: each municipality is that generator run with its own DANE code, size and seed,
written to ``<landing>/<code>/`` with its planted truth in ``<truth>/<code>/``. Sizes are drawn
from the department seed, so the same seed always gives the same department.
"""

from __future__ import annotations

import random
from pathlib import Path

from fiscal_intel.demo.generator import DemoSummary, generate

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


def generate_department(
    landing: Path, truth: Path, plan: list[tuple[str, int, int]]
) -> dict[str, DemoSummary]:
    """Write each municipality of ``plan`` to ``landing/<code>/`` (truth to ``truth/<code>/``)."""
    out = {}
    for code, taxpayers, seed in plan:
        out[code] = generate(
            Path(landing) / code, Path(truth) / code, taxpayers=taxpayers, seed=seed,
            municipality=code,
        )  # fmt: skip
    return out
