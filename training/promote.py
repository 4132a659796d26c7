"""`creditscore promote`: activate a candidate only if it does no worse than the active one.

Both versions are scored on the same held-out clients (``training.holdout``: recomputed from
the data, refused if its fingerprint is not the one the candidate recorded), each at its own
threshold, with the candidate's cost weights. The candidate is activated when

* its business cost per client is no higher than the active version's, and
* its AUC is not lower than the active version's by more than ``auc_tolerance``.

Otherwise it is refused (the CLI exits 4 and prints both figures), unless ``force``: then it
is activated anyway and the history records that it was forced, and why. With no active
version there is nothing to beat: the candidate is activated and the record says so.

The comparison goes to the store (``models/promotions/<version>.json``), to the history
event of the switch, and to MLflow (a ``promote <version>`` run; aliases ``challenger`` on
the candidate, ``champion`` on the version activated).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common.model import ScoringModel
from creditscore_common.store import Store
from creditscore_common.version import ONNX_FILE, verify_version
from training import holdout
from training.data import TRAIN_FILE, ApplicationTable, load_applications
from training.evaluate import CostWeights, metrics_at
from training.lifecycle import LifecycleError, switch_to

log = logging.getLogger(__name__)

#: Default largest AUC drop a cheaper-or-equal candidate may show (half a point).
DEFAULT_AUC_TOLERANCE = 0.005
#: Costs closer than this are equal (float sums in a different order).
COST_EPSILON = 1e-12


class PromotionInputError(ValueError):
    """Promote cannot compare as asked (no data, unusable holdout, --force without reason)."""


@dataclass(frozen=True)
class HoldoutFigures:
    """One version scored on the holdout at its own threshold."""

    version: str
    threshold: float
    auc: float
    cost_per_client: float
    refusal_rate: float
    recall: float
    precision: float
    n_clients: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (comparison file, history, MLflow)."""
        return asdict(self)


def holdout_figures(
    model: ScoringModel, clients: ApplicationTable, weights: CostWeights
) -> HoldoutFigures:
    """AUC and business cost per client of ``model`` on ``clients`` at its own threshold."""
    assert clients.target is not None
    probability = model.score_columns(clients.columns)
    m = metrics_at(clients.target, probability, model.threshold, weights)
    return HoldoutFigures(
        version=model.version,
        threshold=model.threshold,
        auc=m.auc,
        cost_per_client=m.cost_per_client,
        refusal_rate=m.refusal_rate,
        recall=m.recall,
        precision=m.precision,
        n_clients=clients.n_rows,
    )


@dataclass(frozen=True)
class Verdict:
    """Whether the rule lets the candidate in, and why in one sentence."""

    accepted: bool
    reason: str


def promotion_verdict(
    candidate: HoldoutFigures, active: HoldoutFigures | None, auc_tolerance: float
) -> Verdict:
    """The promotion rule: cost no worse, and AUC not lower by more than ``auc_tolerance``."""
    if active is None:
        return Verdict(True, "no active version: nothing to beat")
    cost_ok = candidate.cost_per_client <= active.cost_per_client + COST_EPSILON
    auc_drop = active.auc - candidate.auc
    auc_ok = auc_drop <= auc_tolerance
    cost = f"cost per client {candidate.cost_per_client:.4f} vs {active.cost_per_client:.4f}"
    auc = f"AUC {candidate.auc:.4f} vs {active.auc:.4f} (tolerance {auc_tolerance:g})"
    if cost_ok and auc_ok:
        return Verdict(True, f"no worse than {active.version}: {cost}, {auc}")
    problems = []
    if not cost_ok:
        problems.append(f"costlier: {cost}")
    if not auc_ok:
        problems.append(f"AUC lower by {auc_drop:.4f} > {auc_tolerance:g}: {auc}")
    return Verdict(False, f"worse than {active.version}: " + "; ".join(problems))


@dataclass(frozen=True)
class PromotionOutcome:
    """What promote measured and did."""

    comparison: dict[str, Any]
    candidate: HoldoutFigures
    active: HoldoutFigures | None
    verdict: Verdict
    activated: bool
    forced: bool
    location: str | None
    mlflow_run: str | None


def _data_dir(candidate: ScoringModel, data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir
    recorded = (candidate.metadata.get("training_data") or {}).get("data_dir")
    if not recorded:
        raise PromotionInputError(
            f"model {candidate.version} records no data folder: pass --data DIR (the folder "
            f"with the {TRAIN_FILE} it was trained on)"
        )
    return Path(recorded)


def _load_holdout(candidate: ScoringModel, data_dir: Path) -> holdout.HoldoutSplit:
    split = holdout.split_reference(load_applications(data_dir / TRAIN_FILE, with_target=True))
    holdout.check_holdout(candidate.metadata.get("holdout"), split, f"model {candidate.version}")
    target = split.holdout.target
    if target is None or split.holdout.n_rows == 0 or len(np.unique(target)) < 2:
        raise PromotionInputError(
            f"the holdout of {data_dir / TRAIN_FILE} has {split.holdout.n_rows} clients and "
            "needs defaulters and non-defaulters to measure an AUC: use a larger file"
        )
    return split


def _active_figures(
    store: Store, active_version: str, split: holdout.HoldoutSplit, weights: CostWeights
) -> tuple[HoldoutFigures, dict[str, Any]]:
    """The active version's figures, and what its own record says of the holdout."""
    model = ScoringModel.load(store.model_dir(active_version, [ONNX_FILE]))
    recorded = model.metadata.get("holdout") or {}
    if recorded.get("ids_sha256") == split.record["ids_sha256"]:
        note = "the active version held out the same clients"
    else:
        note = (
            "the active version did not record this holdout: it may have been fitted on some "
            "of these clients, so its figures may be optimistic (the rule errs for it)"
        )
        log.warning("%s (%s)", note, active_version)
    return holdout_figures(model, split.holdout, weights), {
        "same_holdout": recorded.get("ids_sha256") == split.record["ids_sha256"],
        "note": note,
    }


def promote(
    candidate_path: Path,
    store: Store,
    *,
    data_dir: Path | None = None,
    auc_tolerance: float = DEFAULT_AUC_TOLERANCE,
    force: bool = False,
    by: str,
    reason: str | None = None,
) -> PromotionOutcome:
    """Compare ``candidate_path`` with the store's active version; activate it if it wins.

    Raises PromotionInputError, HoldoutMismatchError or LifecycleError (exit 2) before
    anything is written when the comparison cannot be made as asked.
    """
    if not math.isfinite(auc_tolerance) or auc_tolerance < 0:
        raise PromotionInputError(f"--auc-tolerance must be >= 0, got {auc_tolerance}")
    if force and not (reason or "").strip():
        raise PromotionInputError("--force needs a reason: --reason TEXT")
    candidate = ScoringModel.load(candidate_path)
    verify_version(candidate.folder)
    folder = _data_dir(candidate, data_dir)
    split = _load_holdout(candidate, folder)
    meta = candidate.metadata
    weights = CostWeights(float(meta["cost_fn"]), float(meta["cost_fp"]))
    candidate_figures = holdout_figures(candidate, split.holdout, weights)

    active_version = store.active_version()
    active_figures, active_note = None, None
    if active_version == candidate.version:  # a rerun after success: nothing to do
        return PromotionOutcome(
            comparison={},
            candidate=candidate_figures,
            active=None,
            verdict=Verdict(True, "already the active version: nothing done"),
            activated=False,
            forced=False,
            location=None,
            mlflow_run=None,
        )
    if active_version is not None:
        active_figures, active_note = _active_figures(store, active_version, split, weights)
    verdict = promotion_verdict(candidate_figures, active_figures, auc_tolerance)
    forced = force and not verdict.accepted
    activate = verdict.accepted or force
    comparison: dict[str, Any] = {
        "compared_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": by,
        "candidate": candidate_figures.as_dict(),
        "active": active_figures.as_dict() if active_figures else None,
        "active_holdout": active_note,
        "holdout": {**split.record, "data": str(folder / TRAIN_FILE)},
        "cost_weights": {"cost_fn": weights.cost_fn, "cost_fp": weights.cost_fp},
        "rule": {
            "cost": "candidate cost per client <= active cost per client",
            "auc": "candidate AUC >= active AUC - auc_tolerance",
            "auc_tolerance": auc_tolerance,
            "thresholds": "each version at its own threshold",
        },
        "verdict": "accepted" if verdict.accepted else "refused",
        "reason": verdict.reason,
        "forced": forced,
        "force_reason": reason if forced else None,
        "activated": activate,
    }
    with store.publishing(candidate.version):
        store.put_model_version(candidate.folder)  # idempotent: usually published already
        location = store.put_promotion(candidate.version, comparison)
    from training import tracking

    mlflow_run = tracking.log_promotion(comparison)
    if activate:
        summary = {
            "candidate": {"auc": candidate_figures.auc, "cost": candidate_figures.cost_per_client},
            "active": {"auc": active_figures.auc, "cost": active_figures.cost_per_client}
            if active_figures
            else None,
        }
        why = reason or verdict.reason
        if forced:
            why = f"forced ({verdict.reason}): {reason}"
        if store.active_version() != active_version:
            raise LifecycleError(
                f"the active version changed during the comparison (was {active_version}, now "
                f"{store.active_version()}): run promote again"
            )
        switch_to(
            store,
            candidate.version,
            "promote",
            by,
            why,
            {"forced": forced, "comparison": location, "holdout": summary},
        )
    return PromotionOutcome(
        comparison=comparison,
        candidate=candidate_figures,
        active=active_figures,
        verdict=verdict,
        activated=activate,
        forced=forced,
        location=location,
        mlflow_run=mlflow_run,
    )
