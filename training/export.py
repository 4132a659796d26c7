"""Export a trained booster to ONNX, prove parity, and write a model version folder.

A model version is a folder of files plus ``metadata.json`` holding the sha256 of each;
``ARTDIR/latest`` points at the newest one. The folder is assembled in a temporary place
and moved in with one rename, so a reader never sees half a version.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import onnx
from onnxmltools import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

from creditscore_common.model import INPUT_NAME, PROBABILITY_OUTPUT, OnnxScorer
from creditscore_common.version import LATEST_POINTER, METADATA_FILE, MODEL_FILE, ONNX_FILE
from training.data import file_sha256

log = logging.getLogger(__name__)

#: Largest tolerated |ONNX - LightGBM| probability difference on any new client.
PARITY_TOLERANCE = 1e-5
ONNX_OPSET = 15


class ExportParityError(RuntimeError):
    """The ONNX model does not reproduce the native booster's probabilities."""


def to_onnx(booster: lgb.Booster, n_features: int) -> onnx.ModelProto:
    """Convert a binary LightGBM booster to ONNX with a plain probability tensor output.

    ZipMap is disabled, so ``probabilities`` is a float tensor [n, 2] (good, default), and
    the ``label`` output is dropped: the decision belongs to the threshold in metadata.
    """
    model = convert_lightgbm(
        booster,
        name="creditscore",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=ONNX_OPSET,
    )
    kept = [o for o in model.graph.output if o.name == PROBABILITY_OUTPUT]
    if len(kept) != 1:
        names = [o.name for o in model.graph.output]
        raise RuntimeError(f"unexpected ONNX outputs {names}: no {PROBABILITY_OUTPUT!r}")
    del model.graph.output[:]
    model.graph.output.extend(kept)
    onnx.checker.check_model(model)
    return cast(onnx.ModelProto, model)


def check_parity(booster: lgb.Booster, model_bytes: bytes, x: npt.NDArray[np.float32]) -> float:
    """Max |ONNX - LightGBM| on ``x``; raises ExportParityError above the tolerance."""
    native = booster.predict(x)
    exported = OnnxScorer(model_bytes, threads=0).probabilities(x)
    gap = float(np.max(np.abs(native - exported))) if x.shape[0] else 0.0
    if not gap <= PARITY_TOLERANCE:
        worst = int(np.argmax(np.abs(native - exported)))
        raise ExportParityError(
            f"ONNX and LightGBM disagree by {gap:.2e} (> {PARITY_TOLERANCE:.0e}) on row {worst}: "
            f"LightGBM {native[worst]:.8f}, ONNX {exported[worst]:.8f}. Export refused."
        )
    return gap


def write_json(path: Path, payload: Any) -> None:
    """Write JSON with a stable layout (sorted keys are avoided to keep the model order)."""
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def file_hashes(folder: Path, exclude: Iterable[str] = (METADATA_FILE,)) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative POSIX paths), metadata excluded."""
    skip = set(exclude)
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() not in skip
    }


def write_model_files(folder: Path, booster: lgb.Booster, model: onnx.ModelProto) -> None:
    """The two model files: ONNX for scoring, the native booster for exact TreeSHAP."""
    (folder / ONNX_FILE).write_bytes(model.SerializeToString())
    booster.save_model(str(folder / MODEL_FILE))


def publish_version(staging: Path, artifacts_dir: Path, version: str) -> Path:
    """Move a finished version folder into place and point ``latest`` at it, atomically."""
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    final = artifacts_dir / version
    if final.exists():
        raise FileExistsError(f"model version {version} already exists in {artifacts_dir}")
    os.replace(staging, final)
    pointer = artifacts_dir / LATEST_POINTER
    temporary = artifacts_dir / f".{LATEST_POINTER}-{version}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(version, target_is_directory=True)
    if pointer.is_dir() and not pointer.is_symlink():
        shutil.rmtree(pointer)
    os.replace(temporary, pointer)  # one rename: readers see the old or the new version
    return final
