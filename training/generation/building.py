"""The building block: measures of the client's building (AVG, MODE and MEDI of each).

One size factor drives every measure, the three statistics of one measure move together, and
missingness is nested: whoever misses the least-missing column misses them all.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from training.generation.sampler import FloatArray, Sampler, is_building

BUILDING_CATEGORIES = (
    "FONDKAPREMONT_MODE",
    "HOUSETYPE_MODE",
    "WALLSMATERIAL_MODE",
    "EMERGENCYSTATE_MODE",
)
#: How strongly each building measure follows the building's size (the rest is its own).
BUILDING_SIZE_LOADING = {
    "APARTMENTS": 0.92,
    "LIVINGAPARTMENTS": 0.9,
    "LIVINGAREA": 0.92,
    "ELEVATORS": 0.7,
    "ENTRANCES": 0.65,
    "FLOORSMAX": 0.6,
    "FLOORSMIN": 0.55,
    "COMMONAREA": 0.5,
    "BASEMENTAREA": 0.5,
    "LANDAREA": 0.45,
    "NONLIVINGAREA": 0.35,
    "NONLIVINGAPARTMENTS": 0.3,
    "YEARS_BUILD": 0.2,
    "YEARS_BEGINEXPLUATATION": 0.15,
}


def draw_building(s: Sampler, z_region: FloatArray) -> None:
    """The building block: nested missingness and AVG/MODE/MEDI of one measure alike."""
    block = [c.name for c in s.schema.columns if is_building(c.name)]
    z_size = s.mix((0.3, z_region))
    z_new = s.noise()
    measures: dict[str, FloatArray] = {}
    for name in block:
        measure = name.rsplit("_", 1)[0]
        if name in BUILDING_CATEGORIES or measure in measures:
            continue
        loading = BUILDING_SIZE_LOADING.get(measure, 0.9)
        parts: list[tuple[float, FloatArray]] = [(loading, z_size)]
        if measure.startswith("YEARS"):
            parts.append((0.7, z_new))
        measures[measure] = s.mix(*parts)
    for name in block:
        if name in BUILDING_CATEGORIES:
            continue
        z = 0.995 * measures[name.rsplit("_", 1)[0]] + np.sqrt(1 - 0.995**2) * s.noise()
        s.numeric(name, s.quantile(name, ndtr(z)))
    s.binned(
        "HOUSETYPE_MODE",
        z_size + s.noise(),
        ("terraced house", "specific housing", "block of flats"),
    )
    s.binned(
        "WALLSMATERIAL_MODE",
        z_new + s.noise(),
        ("Wooden", "Others", "Mixed", "Stone, brick", "Block", "Panel", "Monolithic"),
    )
    s.draw_levels("FONDKAPREMONT_MODE", s.shares("FONDKAPREMONT_MODE"))
    s.binned("EMERGENCYSTATE_MODE", z_new + s.noise(), ("Yes", "No"))
    # One uniform per client: a column is missing when it falls below its own rate,
    # so whoever misses the least-missing column misses them all.
    u = s.rng.random(s.n)
    for name in block:
        s.missing(name, u < s.schema[name].missing_rate)
