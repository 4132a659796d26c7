"""Model monitoring as the API serves it: the latest data drift summary.

`creditscore drift ... --publish STORE` computes the summary offline (training/drift.py) and
puts it in the store; the explain function serves it on ``GET /monitoring/drift``. The models
below document that JSON document; the offline side writes exactly these keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditscore_common.errors import DriftSummaryNotFoundError
from creditscore_common.store import Store

Verdict = Literal["drift", "no drift", "insufficient data"]


class DriftSample(BaseModel):
    """One side of the comparison: how many clients, and where they come from."""

    rows: int = Field(ge=0)
    source: str
    model_versions: dict[str, int] | None = Field(
        None, description="served traffic only: rows per model version that scored them"
    )


class DriftThresholds(BaseModel):
    """The rule that flags one input (all conditions documented in the README)."""

    alpha: float = Field(description="false discovery rate of the corrected tests")
    correction: str
    psi: float = Field(description="PSI at or above which a shift is large enough")
    wasserstein_normed: float = Field(description="Wasserstein / reference std (numbers)")
    jensen_shannon: float = Field(description="Jensen-Shannon distance, base 2 (categories)")
    missing_share: float = Field(description="absolute change of a number's missing share")


class DriftFeature(BaseModel):
    """Drift of one model input (a raw application column) between the two samples."""

    name: str
    kind: Literal["numeric", "categorical"]
    label: str = Field(description="French label of the column")
    label_en: str
    test: Literal["ks", "chi2"]
    statistics: dict[str, float | None] = Field(
        description="ks, wasserstein, wasserstein_normed (numbers) or chi2, jensen_shannon"
    )
    p_value: float | None
    p_adjusted: float | None = Field(description="Benjamini-Hochberg adjusted p-value")
    psi: float | None
    missing_reference: float | None = Field(description="share missing, reference clients")
    missing_current: float | None = Field(description="share missing, current clients")
    drifted: bool
    importance: float | None = Field(
        description="share of the model's mean |SHAP| that reads this column"
    )
    importance_rank: int | None


class PredictionDrift(BaseModel):
    """Drift of the default probability itself, reference vs current."""

    psi: float | None
    ks_statistic: float | None
    p_value: float | None
    wasserstein_normed: float | None
    reference_mean: float | None
    current_mean: float | None
    drifted: bool
    source: Literal["rescored", "logged"] = Field(
        description="rescored by the model, or the probabilities the API logged"
    )


class DriftSummary(BaseModel):
    """The latest drift report's summary (drift_summary.json)."""

    model_config = ConfigDict(protected_namespaces=())

    generated_at: str
    model_version: str
    reference: DriftSample
    current: DriftSample
    verdict: Verdict
    message: str
    drift_share: float = Field(description="share of the model inputs flagged as drifted")
    share_threshold: float = Field(description="verdict is drift when drift_share >= this")
    importance_drift_share: float | None = Field(
        description="share of the model's importance carried by drifted inputs (information)"
    )
    n_features: int
    n_drifted: int
    min_rows: int
    thresholds: DriftThresholds
    features: list[DriftFeature]
    prediction: PredictionDrift | None
    report_file: str | None = None


def latest_drift_summary(store: Store) -> dict[str, Any]:
    """The summary last published to the store; DriftSummaryNotFoundError if none."""
    summary = store.get_drift_summary()
    if summary is None:
        raise DriftSummaryNotFoundError(
            "no drift summary has been published: run `creditscore drift --data DIR "
            "--model ARTDIR/latest --out REPORT_DIR --publish STORE`"
        )
    return summary
