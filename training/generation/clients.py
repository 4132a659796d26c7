"""Every column of ``n`` clients, block after block, from one random generator.

The order of the blocks is the order of the draws: changing it changes the generated files.
"""

from __future__ import annotations

import numpy as np

from creditscore_common.reference_schema import ReferenceSchema
from training.generation.building import draw_building
from training.generation.credit import draw_bureau_and_social, draw_external_scores, draw_money
from training.generation.documents import draw_documents
from training.generation.employment import draw_employment
from training.generation.identity import draw_family, draw_person, draw_region_and_contacts
from training.generation.sampler import Sampler, _Table


def sample_clients(schema: ReferenceSchema, rng: np.random.Generator, n: int) -> _Table:
    """The reference columns of ``n`` clients (the new clients' drift is applied later)."""
    s = Sampler(schema, rng, n)
    # Hidden factors shared by several blocks: age, wealth and the region.
    z_old, z_wealth, z_region = s.noise(), s.noise(), s.noise()
    draw_person(s, z_old, z_wealth)
    draw_money(s, z_old, z_wealth)
    draw_employment(s, z_old, z_wealth)
    draw_family(s, z_old)
    draw_region_and_contacts(s, z_old, z_region)
    draw_external_scores(s, z_old, z_wealth)
    draw_building(s, z_region)
    draw_bureau_and_social(s)
    draw_documents(s)
    return s.t
