"""End to end through the `creditscore` command: generate -> train --quick -> predict."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from creditscore_common.model import ScoringModel
from creditscore_common.version import METADATA_FILE, ONNX_FILE
from training.cli import EXIT_INVALID_INPUT, main
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, load_applications

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline")]

N_TRAIN = 3000
N_NEW = 800


@dataclass(frozen=True)
class Run:
    data: Path
    artifacts: Path
    predictions: Path
    exit_codes: dict[str, int]


def _run_pipeline(root: Path) -> Run:
    data, artifacts, predictions = root / "data", root / "artifacts", root / "out" / "pred.csv"
    codes: dict[str, int] = {}
    with pytest.MonkeyPatch.context() as patch:
        (root / "mlflow").mkdir()
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow/mlflow.db")
        codes["generate"] = main(
            [
                "generate",
                "--out",
                str(data),
                "--n-train",
                str(N_TRAIN),
                "--n-new",
                str(N_NEW),
                "--seed",
                "3",
            ]
        )
        codes["train"] = main(
            [
                "train",
                "--data",
                str(data),
                "--out",
                str(artifacts),
                "--quick",
                "--no-progress",
                "--no-ablations",
            ]
        )
        codes["predict"] = main(
            [
                "predict",
                "--model",
                str(artifacts / "latest"),
                "--data",
                str(data / NEW_CLIENTS_FILE),
                "--out",
                str(predictions),
            ]
        )
    return Run(data, artifacts, predictions, codes)


@pytest.fixture(scope="module")
def run(shared_build: Callable[[str, Callable[[Path], Run]], Run]) -> Run:
    """The three commands, run once for the whole test run (even across xdist workers)."""
    return shared_build("pipeline", _run_pipeline)


def read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_command_succeeds(run: Run) -> None:
    assert run.exit_codes == {"generate": 0, "train": 0, "predict": 0}
    for name in (TRAIN_FILE, NEW_CLIENTS_FILE, "truth.csv", "drift_manifest.json"):
        assert (run.data / name).is_file(), name
    assert (run.artifacts / "latest" / METADATA_FILE).is_file()
    # --no-ablations: no extra cross-validation, nothing recorded; the rest is all there.
    metadata = json.loads((run.artifacts / "latest" / METADATA_FILE).read_text())
    assert "ablations" not in metadata
    assert {"borderline", "score_bins", "monotone_constraints"} <= set(metadata)


def test_predictions_cover_every_new_client(run: Run) -> None:
    rows = read_predictions(run.predictions)
    assert rows and list(rows[0]) == ["SK_ID_CURR", "probability", "decision", "band"]
    new_clients = load_applications(run.data / NEW_CLIENTS_FILE, with_target=False)
    assert new_clients.n_rows == N_NEW
    assert [int(r["SK_ID_CURR"]) for r in rows] == new_clients.ids.tolist()


def test_decisions_follow_the_metadata_threshold(run: Run) -> None:
    metadata = json.loads((run.artifacts / "latest" / METADATA_FILE).read_text())
    threshold = metadata["threshold"]
    assert 0 < threshold < 1
    rows = read_predictions(run.predictions)
    probability = np.array([float(r["probability"]) for r in rows])
    decision = np.array([r["decision"] for r in rows])
    assert ((probability >= 0) & (probability <= 1)).all()
    assert set(decision) <= {"accept", "refuse"}
    assert np.array_equal(decision == "refuse", probability >= threshold)
    assert 0 < np.mean(decision == "refuse") < 1  # both decisions occur
    band = np.array([r["band"] for r in rows])
    lower, upper = metadata["borderline"]["lower"], metadata["borderline"]["upper"]
    inside = (probability >= lower) & (probability < upper)
    # The CSV holds 17 significant digits: a probability on an edge reads back the same.
    assert np.array_equal(band == "borderline", inside)


def test_batch_probabilities_equal_one_client_scoring(run: Run) -> None:
    rows = read_predictions(run.predictions)
    by_id = {int(r["SK_ID_CURR"]): float(r["probability"]) for r in rows}
    new_clients = load_applications(run.data / NEW_CLIENTS_FILE, with_target=False)
    model = ScoringModel.load(run.artifacts / "latest")
    for row in (0, 1, 17, 400, new_clients.n_rows - 1):
        client = int(new_clients.ids[row])
        single = model.score_record(new_clients.record(row))
        assert single == pytest.approx(by_id[client], abs=1e-6), client


def test_predictions_are_not_the_truth_but_track_it(run: Run) -> None:
    """The model learned something: its probabilities rank like the true probabilities."""
    with (run.data / "truth.csv").open(newline="") as handle:
        truth = {int(r["SK_ID_CURR"]): float(r["TRUE_PROBABILITY"]) for r in csv.DictReader(handle)}
    rows = read_predictions(run.predictions)
    predicted = np.array([float(r["probability"]) for r in rows])
    true = np.array([truth[int(r["SK_ID_CURR"])] for r in rows])
    ranks = np.argsort(np.argsort(predicted)), np.argsort(np.argsort(true))
    assert np.corrcoef(*ranks)[0, 1] > 0.3


def test_predict_with_a_tampered_model_exits_2_and_writes_nothing(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree((run.artifacts / "latest").resolve(), tampered)
    onnx = tampered / ONNX_FILE
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    out = tmp_path / "pred.csv"
    code = main(
        [
            "predict",
            "--model",
            str(tampered),
            "--data",
            str(run.data / NEW_CLIENTS_FILE),
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_INVALID_INPUT
    assert not out.exists()
    assert list(tmp_path.glob("*pred.csv*")) == []
    assert ONNX_FILE in capsys.readouterr().err


def test_predict_with_a_missing_model_exits_2(run: Run, tmp_path: Path) -> None:
    code = main(
        [
            "predict",
            "--model",
            str(tmp_path / "nowhere"),
            "--data",
            str(run.data / NEW_CLIENTS_FILE),
            "--out",
            str(tmp_path / "pred.csv"),
        ]
    )
    assert code == EXIT_INVALID_INPUT
    assert not (tmp_path / "pred.csv").exists()


def test_predict_on_a_broken_file_exits_2(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / NEW_CLIENTS_FILE
    lines = (run.data / NEW_CLIENTS_FILE).read_text().splitlines()
    broken.write_text("\n".join([lines[0].replace("AMT_CREDIT", "AMT_CREDITS"), *lines[1:]]))
    code = main(
        [
            "predict",
            "--model",
            str(run.artifacts / "latest"),
            "--data",
            str(broken),
            "--out",
            str(tmp_path / "pred.csv"),
        ]
    )
    assert code == EXIT_INVALID_INPUT
    assert not (tmp_path / "pred.csv").exists()


def test_predict_accepts_a_reference_file_and_ignores_its_target(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "reference.csv"
    code = main(
        [
            "predict",
            "--model",
            str(run.artifacts / "latest"),
            "--data",
            str(run.data / TRAIN_FILE),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert len(read_predictions(out)) == N_TRAIN
