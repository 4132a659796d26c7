"""The documents handed in: the FLAG_DOCUMENT_* columns."""

from __future__ import annotations

import numpy as np

from training.generation.sampler import Sampler


def draw_documents(s: Sampler) -> None:
    """FLAG_DOCUMENT_*: a client hands in (at most) one main document."""
    names = [c.name for c in s.schema.columns if c.name.startswith("FLAG_DOCUMENT_")]
    shares = np.array([s.schema[n].share_of_ones or 0.0 for n in names])
    shares = shares / max(1.0, shares.sum())
    pick = np.searchsorted(np.cumsum(shares), s.rng.random(s.n), side="right")
    for k, name in enumerate(names):
        s.flag(name, pick == k)
