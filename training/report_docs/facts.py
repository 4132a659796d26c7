"""A model version's files read back (hashes checked), and how the documents format numbers.

The formatters are the documents' only number formats: the tests format a version's figures
with them and look for the result in the documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditscore_common.version import (
    IMPORTANCE_FILE,
    METADATA_FILE,
    REFERENCE_STATS_FILE,
    REPORT_DIR,
    ModelIntegrityError,
    read_metadata,
    read_verified,
    recorded_files,
    resolve_version_dir,
)


class ReportInputError(ValueError):
    """The documents cannot be written from what was given (exit code 2)."""


# ---------------------------------------------------------------------------- formats


def auc(value: float) -> str:
    """An AUC: 0.7746."""
    return f"{value:.4f}"


def cost(value: float) -> str:
    """A cost per client: 0.4996."""
    return f"{value:.4f}"


def probability(value: float) -> str:
    """A probability or threshold: 0.0934."""
    return f"{value:.4f}"


def share(value: float | None) -> str:
    """A share in percent: 76.7% (— when unknown)."""
    return "—" if value is None else f"{value:.1%}"


def ratio(value: float | None) -> str:
    """A parity ratio: 0.97 (— when unknown)."""
    return "—" if value is None else f"{value:.2f}"


def points(value: float | None) -> str:
    """A gap between two shares, in percentage points: 62.5 points."""
    return "—" if value is None else f"{100 * value:.1f} points"


def signed(value: float) -> str:
    """A difference of AUC or cost: +0.0003."""
    return f"{value:+.4f}"


def count(value: int | float) -> str:
    """A count: 100,000."""
    return f"{int(value):,}"


def cell(value: Any) -> str:
    """A value inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: int = 1) -> list[str]:
    """A Markdown table; columns from ``right`` on are right-aligned (numbers)."""
    align = ["---" if i < right else "---:" for i in range(len(headers))]
    lines = [f"| {' | '.join(headers)} |", f"| {' | '.join(align)} |"]
    lines += [f"| {' | '.join(cell(v) for v in row)} |" for row in rows]
    return lines


# ---------------------------------------------------------------------------- the version


@dataclass(frozen=True)
class VersionFacts:
    """What the documents are made of: one model version's verified files."""

    folder: Path
    metadata: dict[str, Any]
    importance: dict[str, Any]
    reference_stats: dict[str, Any] | None
    figures: dict[str, bytes]  # report/<name>.png -> its bytes

    @property
    def version(self) -> str:
        """The model version's name."""
        return str(self.metadata.get("model_version") or self.folder.name)

    def block(self, key: str) -> Mapping[str, Any]:
        """A block of the metadata ({} when this version did not record it)."""
        value = self.metadata.get(key)
        return value if isinstance(value, Mapping) else {}


def load_version(path: Path) -> VersionFacts:
    """Read a version folder (a folder or ``ARTDIR/latest``); ReportInputError if unusable."""
    path = Path(path)
    if not path.exists():
        raise ReportInputError(f"{path}: no such model version folder (train one first)")
    try:
        folder = resolve_version_dir(path)
        metadata = read_metadata(folder)
    except (ModelIntegrityError, OSError, ValueError) as error:
        raise ReportInputError(f"{path}: {error}") from error
    missing = [
        k for k in ("threshold", "metrics", "comparison", "training_data") if k not in metadata
    ]
    if missing:
        raise ReportInputError(f"{folder / METADATA_FILE} lacks {', '.join(missing)}")
    try:
        importance = json.loads(read_verified(folder, metadata, IMPORTANCE_FILE))
        files = recorded_files(metadata)
        stats = (
            json.loads(read_verified(folder, metadata, REFERENCE_STATS_FILE))
            if REFERENCE_STATS_FILE in files
            else None
        )
        figures = {
            name: read_verified(folder, metadata, name)
            for name in sorted(files)
            if name.startswith(f"{REPORT_DIR}/") and name.endswith(".png")
        }
    except ModelIntegrityError as error:
        raise ReportInputError(str(error)) from error
    return VersionFacts(folder, metadata, importance, stats, figures)
