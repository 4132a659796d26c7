"""Checks shared by the tests of `creditscore report` and of the committed docs/."""

from __future__ import annotations

from typing import Any

from creditscore_common.model_card import fairness_of
from training.report_docs import facts as fmt


def assert_documents_carry(meta: dict[str, Any], card: str, note: str) -> None:
    """The documents state the version's own figures, as the documents format them.

    Used on freshly written documents and on the committed docs/ alike.
    """
    m = meta["metrics"]
    for text in (card, note):
        assert meta["model_version"] in text
        assert fmt.auc(m["cv_auc"]) in text
        assert fmt.cost(m["cv_cost_per_client"]) in text
        assert fmt.probability(meta["threshold"]) in text
    assert meta["training_data"]["sha256"] in card
    fairness = fairness_of(meta["fairness"], "en")
    assert fairness is not None
    for dimension in fairness.dimensions.values():
        assert f"Parity ratio **{fmt.ratio(dimension.parity_ratio)}**" in card
        assert fmt.points(dimension.equal_opportunity_gap) in card
    for key in ("with_gender", "without_monotone"):
        assert fmt.auc(meta["ablations"][key]["auc"]) in card
    band = meta["borderline"]
    assert f"[{fmt.probability(band['lower'])}, {fmt.probability(band['upper'])})" in card
    assert f"ECE (as served): {fmt.probability(meta['calibration']['ece'])}" in card
    for column in meta["feature_spec"]["dropped_columns"]:
        assert f"`{column}`" in note
