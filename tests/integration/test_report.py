"""`creditscore report`: the model card and the methodological note, from the artifacts.

The documents must carry the version's own figures (formatted as they format them), the
decisions summary must count hand-made decisions right, and bad input exits with code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from report_checks import assert_documents_carry

from creditscore_common.store.local import LocalStore
from training.cli import main
from training.report_docs import (
    METHODOLOGY_FILE,
    MODEL_CARD_FILE,
    load_version,
    model_decision,
    summarise_decisions,
)

if TYPE_CHECKING:
    from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

OTHER_VERSION = "20250101-000000-00000000"


def decision(
    client_id: int, n: int, advisor: str, p: float, version: str, comment: str = ""
) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "decided_at": f"2026-01-01T00:00:{n:02d}.000000Z#{n:032x}",
        "decision": advisor,
        "comment": comment,
        "advisor": "advisor@example.com",
        "probability": p,
        "threshold": 0.1,
        "model_version": version,
    }


@pytest.fixture(scope="module")
def documents(
    trained_model: TrainingResult,
    publish_local: Callable[[Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path]:
    """A published store with hand-made decisions, and the documents written from both."""
    root = publish_local(tmp_path_factory.mktemp("report") / "store")
    store = LocalStore(root)
    version = trained_model.model_version
    for record in (
        decision(1, 1, "accept", 0.05, version),  # agrees
        decision(1, 2, "refuse", 0.05, version, "revenus non justifiés"),  # accept→refuse
        decision(2, 3, "accept", 0.30, version),  # refuse→accept, no comment
        decision(3, 4, "refuse", 0.10, version),  # agrees (p == threshold: refuse)
        decision(4, 5, "accept", 0.20, OTHER_VERSION, "garant"),  # refuse→accept
    ):
        store.add_decision(record)
    store.close()
    out = tmp_path_factory.mktemp("docs") / "docs"
    model = trained_model.version_dir.parent / "latest"
    assert (
        main(["report", "--model", str(model), "--out", str(out), "--store", f"local:{root}"]) == 0
    )
    return out, root


def test_documents_carry_the_versions_figures(
    documents: tuple[Path, Path], trained_model: TrainingResult
) -> None:
    out, _ = documents
    card = (out / MODEL_CARD_FILE).read_text()
    note = (out / METHODOLOGY_FILE).read_text()
    meta = trained_model.metadata
    assert_documents_carry(meta, card, note)
    # The version's metadata travels with the documents, verbatim.
    assert json.loads((out / "metadata.json").read_text()) == meta
    # the texts shared with the API's card
    from creditscore_common import wording

    assert all(text in card for text in wording.known_limits("en"))
    assert all(text in card for text in wording.intended_use("en", meta["cost_fn"], 1.0))
    # the note: the top features, the drift rule, the figures
    assert "365243" in note
    importance = load_version(trained_model.version_dir).importance["features"]
    top = sorted(importance, key=lambda r: -r["mean_abs_shap"])[:15]
    assert all(f"`{row['feature']}`" in note for row in top)
    assert "PSI ≥ 0.1" in note
    for name in ("roc.png", "cost_vs_threshold.png", "calibration.png", "shap_summary.png"):
        assert (out / "figures" / name).is_file() and f"figures/{name}" in note
    assert not list(out.rglob(".*"))  # no temporary file left behind


def test_decisions_summary_in_the_card(
    documents: tuple[Path, Path], trained_model: TrainingResult
) -> None:
    out, root = documents
    store = LocalStore(root)
    summary = summarise_decisions(store.all_decisions())
    store.close()
    assert not summary.by_reason_code
    current, other = summary.versions  # by first decision
    assert other.model_version == OTHER_VERSION
    assert current.model_version == trained_model.model_version
    assert (current.n_decisions, current.n_files, current.n_agree) == (4, 3, 2)
    assert current.agreement_rate == 0.5
    assert current.overrides == {"accept→refuse": 1, "refuse→accept": 1}
    assert current.reasons == {
        "accept→refuse": {"comment given": 1},
        "refuse→accept": {"no comment": 1},
    }
    assert other.overrides == {"accept→refuse": 0, "refuse→accept": 1}
    card = (out / MODEL_CARD_FILE).read_text()
    assert f"| `{current.model_version}` | 3 | 4 | 50.0% | 1 | 1 |" in card
    assert f"| `{OTHER_VERSION}` | 1 | 1 | 0.0% | 0 | 1 |" in card
    assert "comment given / none" in card


def test_reason_codes_when_records_carry_them() -> None:
    records = [
        {**decision(1, 1, "accept", 0.5, "v"), "reason_code": "guarantor"},
        decision(2, 2, "refuse", 0.01, "v"),
    ]
    summary = summarise_decisions(records)
    assert summary.by_reason_code
    assert summary.versions[0].reasons == {
        "accept→refuse": {"none": 1},
        "refuse→accept": {"guarantor": 1},
    }
    assert model_decision(decision(1, 1, "accept", 0.1, "v")) == "refuse"


def test_missing_model_exits_2_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs"
    assert main(["report", "--model", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "no such model version folder" in capsys.readouterr().err
    assert not out.exists()


def test_unreadable_store_exits_2_without_writing(
    trained_model: TrainingResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "docs"
    args = ["report", "--model", str(trained_model.version_dir), "--out", str(out)]
    assert main([*args, "--store", f"local:{tmp_path / 'no-store'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "store.sqlite").write_bytes(b"not a database" * 100)
    assert main([*args, "--store", f"local:{tmp_path / 'broken'}"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main([*args, "--store", "s3://bucket"]) == 2
    assert not out.exists()
