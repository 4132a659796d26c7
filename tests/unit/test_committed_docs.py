"""The committed docs/ state the figures of the model version they were written from.

`creditscore report --model ARTDIR/latest --out docs` writes the model card, the
methodological note, the figures and a copy of the version's metadata.json; the committed
documents come from the full-size run (see the README). Regenerated documents that were not
committed with their metadata, or hand-edited figures, fail here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_checks import assert_documents_carry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_documents_match_their_model_version() -> None:
    if not (DOCS / "metadata.json").is_file():
        pytest.fail("docs/ holds no metadata.json: run creditscore report on the full-size model")
    meta = json.loads((DOCS / "metadata.json").read_text())
    card = (DOCS / "model_card.md").read_text()
    note = (DOCS / "methodology.md").read_text()
    assert_documents_carry(meta, card, note)
    for name in ("roc.png", "cost_vs_threshold.png", "calibration.png", "shap_summary.png"):
        assert (DOCS / "figures" / name).is_file(), name
