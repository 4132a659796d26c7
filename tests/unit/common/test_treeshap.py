"""TreeSHAP through lib_lightgbm.so: the same numbers as lightgbm's own pred_contrib."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pytest

from creditscore_common.features import FeatureSpec, transform_batch
from creditscore_common.treeshap import (
    OPENMP_RUNTIME,
    LightGBMLibraryError,
    TreeShapBooster,
    find_library,
    find_openmp_runtime,
)
from creditscore_common.version import MODEL_FILE
from training.data import NEW_CLIENTS_FILE, load_applications
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

PARITY = 1e-9
ADDITIVITY = 1e-6


@pytest.fixture(scope="module")
def new_client_matrix(
    trained_model: TrainingResult, small_data_dir: Path
) -> npt.NDArray[np.float32]:
    """The model's input for 300 new clients, as the functions build it (float32)."""
    spec = FeatureSpec.from_dict(trained_model.metadata["feature_spec"])
    table = load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False)
    return transform_batch(spec, table.columns)[:300]


@pytest.fixture(scope="module")
def reference_booster(trained_model: TrainingResult) -> lgb.Booster:
    return lgb.Booster(model_file=str(trained_model.version_dir / MODEL_FILE))


@pytest.fixture(scope="module")
def booster(trained_model: TrainingResult) -> TreeShapBooster:
    return TreeShapBooster.from_file(trained_model.version_dir / MODEL_FILE)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contributions_equal_lightgbm_pred_contrib(
    booster: TreeShapBooster,
    reference_booster: lgb.Booster,
    new_client_matrix: npt.NDArray[np.float32],
    dtype: type,
) -> None:
    x: npt.NDArray[np.floating[Any]] = new_client_matrix.astype(dtype)
    ours = booster.contributions(x)
    theirs = np.asarray(reference_booster.predict(x, pred_contrib=True), dtype=np.float64)
    assert ours.shape == theirs.shape == (x.shape[0], x.shape[1] + 1)
    assert np.max(np.abs(ours - theirs)) <= PARITY
    # Not a trivial agreement: features do move the score, and clients differ.
    assert np.abs(ours[:, :-1]).sum(axis=1).min() > 0
    assert np.unique(np.round(ours[:, -1], 12)).size == 1  # one base value for everyone


def test_contributions_add_up_to_the_raw_log_odds(
    booster: TreeShapBooster,
    reference_booster: lgb.Booster,
    new_client_matrix: npt.NDArray[np.float32],
) -> None:
    contributions = booster.contributions(new_client_matrix)
    raw = booster.raw_scores(new_client_matrix)
    assert np.max(np.abs(contributions.sum(axis=1) - raw)) <= ADDITIVITY
    native_raw = reference_booster.predict(new_client_matrix, raw_score=True)
    assert np.max(np.abs(raw - native_raw)) <= PARITY
    probability = 1.0 / (1.0 + np.exp(-raw))
    assert np.max(np.abs(probability - reference_booster.predict(new_client_matrix))) <= PARITY


def test_one_row_as_a_vector_or_a_matrix(
    booster: TreeShapBooster, new_client_matrix: npt.NDArray[np.float32]
) -> None:
    row = new_client_matrix[7]
    assert np.array_equal(booster.contributions(row), booster.contributions(row[None, :]))
    # A strided view must not be read as packed rows.
    strided = np.asfortranarray(new_client_matrix[:5])
    assert np.array_equal(
        booster.contributions(strided), booster.contributions(new_client_matrix[:5])
    )


def test_wrong_width_is_refused(booster: TreeShapBooster) -> None:
    with pytest.raises(ValueError, match="features"):
        booster.contributions(np.zeros((1, booster.n_features - 1)))


def test_a_broken_model_text_gives_lightgbms_message() -> None:
    with pytest.raises(LightGBMLibraryError, match="LightGBM"):
        TreeShapBooster("this is not a LightGBM model\n")


def test_a_closed_booster_refuses_to_predict(trained_model: TrainingResult) -> None:
    booster = TreeShapBooster.from_file(trained_model.version_dir / MODEL_FILE)
    booster.close()
    booster.close()  # idempotent
    with pytest.raises(LightGBMLibraryError, match="closed"):
        booster.raw_scores(np.zeros((1, booster.n_features)))


def test_the_library_is_found_without_importing_lightgbm(trained_model: TrainingResult) -> None:
    """The function must never pull lightgbm's Python package (and scipy) in."""
    model_txt = str(trained_model.version_dir / MODEL_FILE)
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        import numpy as np
        from creditscore_common.treeshap import TreeShapBooster
        booster = TreeShapBooster.from_file(Path({model_txt!r}))
        out = booster.contributions(np.zeros((2, booster.n_features)))
        heavy = sorted(m for m in ("lightgbm", "scipy", "pandas", "sklearn") if m in sys.modules)
        print(json.dumps({{"shape": list(out.shape), "heavy": heavy}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["shape"][0] == 2
    assert find_library().name == "lib_lightgbm.so" and find_library().is_file()


def test_a_vendored_openmp_runtime_is_found_on_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path("lib/libgomp.so.1") == OPENMP_RUNTIME
    vendored = tmp_path / OPENMP_RUNTIME
    vendored.parent.mkdir()
    vendored.write_bytes(b"")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "nothing"), str(tmp_path)])
    assert find_openmp_runtime() == vendored
    monkeypatch.setattr(sys, "path", [str(tmp_path / "nothing")])
    assert find_openmp_runtime() is None
