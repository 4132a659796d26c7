"""`creditscore predict`: score a file of applications in batch through the ONNX model."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from creditscore_common.model import ScoringModel
from creditscore_common.reference_schema import ID_COLUMN, TARGET_COLUMN
from training.data import DataQuality, load_applications, read_header


@dataclass(frozen=True)
class PredictionSummary:
    """What a batch prediction wrote."""

    out_path: Path
    model_version: str
    threshold: float
    n_clients: int
    n_refused: int
    #: Values that broke a plausibility rule, scored as missing (as in training).
    data_quality: DataQuality


def predict_file(model_path: Path, data_path: Path, out_path: Path) -> PredictionSummary:
    """Write SK_ID_CURR, probability, decision and band for every application in ``data_path``.

    The file may be a new-clients file or a reference file (its TARGET is ignored). The
    output appears whole or not at all. A value that breaks a plausibility rule is scored as
    missing, as in training, and counted in ``data_quality`` (the API would refuse it).
    """
    model = ScoringModel.load(model_path, threads=0)
    with_target = TARGET_COLUMN in read_header(data_path)
    table = load_applications(data_path, with_target=with_target)
    probability = model.score_columns(table.columns)
    decision = model.decide_many(probability)
    result = pa.table(
        {
            ID_COLUMN: pa.array(table.ids),
            "probability": pa.array(probability),
            "decision": pa.array(decision.astype(str)),
            "band": pa.array(model.bands_many(probability).astype(str)),
        }
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out_path.name}-", dir=out_path.parent)
    os.close(handle)
    try:
        pacsv.write_csv(result, temporary)
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return PredictionSummary(
        out_path=out_path,
        model_version=model.version,
        threshold=model.threshold,
        n_clients=table.n_rows,
        n_refused=int(np.sum(decision == "refuse")),
        data_quality=table.quality,
    )
