"""Model runtime: a model version's ONNX Runtime session and its decision rule.

A version folder holds ``model.onnx``, ``model.txt``, ``metadata.json`` and statistics
(:mod:`creditscore_common.version`). Loading a model reads ``metadata.json`` and verifies
``model.onnx``, the one file scoring needs; other readers verify the files they read. The
decision threshold and cost weights come from that metadata and from nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from creditscore_common.features import (
    PROTECTED_COLUMNS,
    FeatureSpec,
    RawColumns,
    transform_batch,
    transform_record,
)
from creditscore_common.version import (
    ONNX_FILE,
    ModelIntegrityError,
    read_metadata,
    read_verified,
    resolve_version_dir,
)

INPUT_NAME = "features"
PROBABILITY_OUTPUT = "probabilities"

Decision = Literal["accept", "refuse"]
#: ``borderline``: the probability lies in the model version's uncertainty interval around
#: the threshold (metadata ``borderline``), where the data cannot tell which side is right.
Band = Literal["clear", "borderline"]


class OnnxScorer:
    """An ONNX Runtime session on the exported model: features in, P(default) out."""

    def __init__(self, model_bytes: bytes, threads: int = 1) -> None:
        import onnxruntime as ort  # kept local: only scoring code pays for the import

        options = ort.SessionOptions()
        # One intra-op thread: a Lambda scores one client at a time; 0 lets ORT pick.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """P(default) for each row of a float32 feature matrix."""
        (out,) = self._session.run(
            [PROBABILITY_OUTPUT], {INPUT_NAME: np.ascontiguousarray(features, np.float32)}
        )
        return np.asarray(out, dtype=np.float64)[:, 1]


@dataclass(frozen=True)
class ScoringModel:
    """A loaded, hash-checked model version ready to score raw applications."""

    folder: Path
    metadata: Mapping[str, Any]
    spec: FeatureSpec
    scorer: OnnxScorer

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> ScoringModel:
        """Load a version (folder, ``latest`` link or pointer file), verifying model.onnx.

        The version's other files are verified by whoever reads them (explain, comparisons):
        an altered report figure or booster does not stop scoring.
        """
        folder = resolve_version_dir(path)
        metadata = read_metadata(folder)
        onnx = read_verified(folder, metadata, ONNX_FILE)
        spec = FeatureSpec.from_dict(metadata["feature_spec"])
        protected = set(spec.input_columns) & set(PROTECTED_COLUMNS)
        if protected:
            raise ModelIntegrityError(
                f"{folder}: the model reads the protected attribute(s) {sorted(protected)}; "
                "refusing to serve it (retrain: they are never model inputs)"
            )
        return cls(folder, metadata, spec, OnnxScorer(onnx, threads=threads))

    def read_file(self, name: str) -> bytes:
        """Another file of this version, verified against its recorded sha256."""
        return read_verified(self.folder, self.metadata, name)

    @property
    def version(self) -> str:
        """The model version name."""
        return str(self.metadata["model_version"])

    @property
    def threshold(self) -> float:
        """Decision threshold: refuse when P(default) >= threshold."""
        return float(self.metadata["threshold"])

    def decide(self, probability: float) -> Decision:
        """Accept or refuse one client against this version's threshold."""
        return "refuse" if probability >= self.threshold else "accept"

    @property
    def borderline(self) -> tuple[float, float]:
        """The interval [lower, upper) around the threshold where a file is to be examined.

        Recorded by training in ``metadata.json``; a version without one has an empty
        interval (every file is ``clear``).
        """
        recorded = self.metadata.get("borderline") or {}
        threshold = self.threshold
        lower = float(recorded.get("lower", threshold))
        upper = float(recorded.get("upper", threshold))
        return min(lower, threshold), max(upper, threshold)

    def band(self, probability: float) -> Band:
        """``borderline`` inside the version's interval around the threshold, else ``clear``."""
        lower, upper = self.borderline
        return "borderline" if lower <= probability < upper else "clear"

    def bands_many(self, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
        """Vectorised :meth:`band`."""
        lower, upper = self.borderline
        inside = (probabilities >= lower) & (probabilities < upper)
        return np.where(inside, "borderline", "clear")

    def decide_many(self, probabilities: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
        """Vectorised :meth:`decide`."""
        return np.where(probabilities >= self.threshold, "refuse", "accept")

    def score_columns(self, columns: RawColumns) -> npt.NDArray[np.float64]:
        """P(default) for a batch of raw applications given as columns."""
        return self.scorer.probabilities(transform_batch(self.spec, columns))

    def score_record(self, record: Mapping[str, Any]) -> float:
        """P(default) for one raw application (field -> value)."""
        return self.score_row(transform_record(self.spec, record))

    def score_row(self, row: npt.NDArray[np.float32]) -> float:
        """P(default) for one application already transformed (shape (1, n_features))."""
        return float(self.scorer.probabilities(row)[0])
