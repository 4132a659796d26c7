"""Model version folders: the names of their files, and reading a file whose hash is checked.

A model version is a folder of files plus ``metadata.json``, which records the sha256 of
every other file. A reader never trusts a file of it: :func:`read_verified` gives its bytes
only if they match the recorded hash, and each function reads, hence verifies, only the
files it needs (the score function does not read the report's figures, so an altered figure
cannot stop scoring). ``creditscore publish`` checks every file (:func:`verify_version`).

Standard library only: the store, the model runtime and training all import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The ONNX model the score route runs (every function scores).
ONNX_FILE = "model.onnx"
#: The native LightGBM booster (exact TreeSHAP: the explain function).
MODEL_FILE = "model.txt"
#: The version's facts (threshold, feature spec, metrics...) and the sha256 of every file.
METADATA_FILE = "metadata.json"
#: Aggregated statistics of the reference clients (for people and tools; no function reads it).
REFERENCE_STATS_FILE = "reference_stats.json"
#: Mean |TreeSHAP| per feature (the explain function's /model/importance; the drift report).
IMPORTANCE_FILE = "global_importance.json"
#: Comparison features and outcome of every reference client, no ids (the client function).
PROFILES_FILE = "reference_profiles.npz"
#: Figures of the training report (``report/roc.png``...), for people.
REPORT_DIR = "report"
#: ``ARTDIR/latest``: the newest version trained into an artifacts folder.
LATEST_POINTER = "latest"


class ModelIntegrityError(RuntimeError):
    """A model version is incomplete or a file differs from its recorded sha256."""


def resolve_version_dir(path: Path) -> Path:
    """The version folder behind ``path``: a folder, a ``latest`` link or a pointer file."""
    if path.is_file():
        # A pointer file holds the name of a sibling version folder.
        target = path.parent / path.read_text().strip()
    else:
        target = path.resolve()
    if not (target / METADATA_FILE).is_file():
        raise ModelIntegrityError(f"{path} is not a model version folder (no {METADATA_FILE})")
    return target


def read_metadata(folder: Path) -> dict[str, Any]:
    """The ``metadata.json`` of a version folder."""
    metadata: dict[str, Any] = json.loads((folder / METADATA_FILE).read_text())
    return metadata


def recorded_files(metadata: Mapping[str, Any]) -> dict[str, str]:
    """File name (relative POSIX path) -> recorded sha256, for every file but metadata.json."""
    return dict(metadata.get("sha256") or {})


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def read_verified(folder: Path, metadata: Mapping[str, Any], name: str) -> bytes:
    """The bytes of file ``name`` of a version, if they match the sha256 its metadata records.

    ModelIntegrityError if the metadata records no hash for it, if it is missing, or if it
    differs: a reader refuses what it cannot trust rather than serve an altered model.
    """
    where = f"model {folder.name}"  # the version's name: no server path in an API answer
    expected = recorded_files(metadata).get(name)
    if expected is None:
        raise ModelIntegrityError(f"{where}: metadata records no sha256 for {name}")
    try:
        data = (folder / name).read_bytes()
    except FileNotFoundError as error:
        raise ModelIntegrityError(f"{where}: {name} is listed in metadata but missing") from error
    actual = sha256_bytes(data)
    if actual != expected:
        raise ModelIntegrityError(
            f"{where}: {name} has sha256 {actual[:12]}…, metadata says {expected[:12]}…; "
            "refusing to serve a model that was altered"
        )
    return data


def version_files(folder: Path) -> list[str]:
    """Files of a version folder: metadata.json first, then every file it records a hash for."""
    return [METADATA_FILE, *sorted(recorded_files(read_metadata(folder)))]


def verify_version(folder: Path) -> dict[str, Any]:
    """Check every file a version's metadata records (publishing); returns the metadata."""
    metadata = read_metadata(folder)
    if ONNX_FILE not in recorded_files(metadata):
        raise ModelIntegrityError(f"{folder}: metadata records no sha256 for {ONNX_FILE}")
    for name in recorded_files(metadata):
        read_verified(folder, metadata, name)
    return metadata
