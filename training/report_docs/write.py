"""Write the documents (and the version's report figures) atomically into a folder."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creditscore_common.version import METADATA_FILE
from training.report_docs.card import model_card_markdown
from training.report_docs.decisions import DecisionsSummary
from training.report_docs.facts import ReportInputError, VersionFacts
from training.report_docs.methodology import figure_name, methodology_markdown

MODEL_CARD_FILE = "model_card.md"
METHODOLOGY_FILE = "methodology.md"


@dataclass(frozen=True)
class DocumentsResult:
    """What ``creditscore report`` wrote."""

    model_version: str
    paths: list[Path]
    decisions: DecisionsSummary | None


def _write_all(out_dir: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Every file written aside first, then each renamed into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, aside = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
            staged.append((name, Path(aside)))
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.chmod(aside, 0o644)
        for name, temporary in staged:
            os.replace(temporary, out_dir / name)
    finally:
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)
    return [out_dir / name for name in files]


def write_documents(
    x: VersionFacts,
    out_dir: Path,
    decisions: DecisionsSummary | None = None,
    store: str | None = None,
    eda_dir: Path | None = None,
    drift_summary: Mapping[str, Any] | None = None,
) -> DocumentsResult:
    """``model_card.md``, ``methodology.md``, ``figures/*.png`` and the version's ``metadata.json``.

    The metadata travels with the documents: every figure in them can be checked against it.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportInputError(f"{out_dir} is a file: --out needs a folder")
    if eda_dir is not None and not Path(eda_dir).is_dir():
        raise ReportInputError(f"{eda_dir}: no such folder (--eda takes the eda report's folder)")
    files: dict[str, bytes] = {figure_name(name): data for name, data in x.figures.items()}
    files[MODEL_CARD_FILE] = model_card_markdown(x, decisions, store).encode()
    files[METHODOLOGY_FILE] = methodology_markdown(x, eda_dir, drift_summary).encode()
    files[METADATA_FILE] = (json.dumps(x.metadata, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = _write_all(out_dir, files)
    except OSError as error:
        raise ReportInputError(f"cannot write into {out_dir}: {error}") from error
    return DocumentsResult(x.version, paths, decisions)
