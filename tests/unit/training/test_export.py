"""A published model version: ONNX parity, the metadata contract, hashes, statistics, MLflow.

Most tests read the one version trained by the session fixture ``trained_model``; they are kept
on one xdist worker so that the training runs once. Tests that alter files work on a copy.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from creditscore_common.features import transform_batch
from creditscore_common.model import ScoringModel
from creditscore_common.version import (
    IMPORTANCE_FILE,
    METADATA_FILE,
    MODEL_FILE,
    ONNX_FILE,
    PROFILES_FILE,
    REFERENCE_STATS_FILE,
    ModelIntegrityError,
    read_verified,
    resolve_version_dir,
    verify_version,
)
from training.data import (
    TRAIN_FILE,
    ApplicationTable,
    load_applications,
    load_reference_and_new,
)
from training.evaluate import CostWeights, best_threshold
from training.export import (
    PARITY_TOLERANCE,
    ExportParityError,
    check_parity,
    publish_version,
    to_onnx,
)
from training.holdout import split_reference
from training.modelling import FoldPlan, cross_validate_dummy, float32_thresholds
from training.stats import MIN_BIN_COUNT, PERCENTILES
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")
slow = pytest.mark.slow

IMBALANCES = ("none", "class_weight", "undersample")
METADATA_KEYS = (
    "model_version",
    "created_at",
    "features",
    "feature_spec",
    "encodings",
    "clip_limits",
    "dropped_columns",
    "threshold",
    "cost_fn",
    "cost_fp",
    "metrics",
    "comparison",
    "training_data",
    "sha256",
    "monotone_constraints",
    "borderline",
    "threshold_rules",
    "score_bins",
    "ablations",
    "calibration",
    "fairness",
    "data_quality",
)
METRIC_KEYS = ("cv_auc", "cv_cost_per_client", "recall", "precision", "brier")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strict_json(path: Path) -> Any:
    """Parse JSON refusing NaN and Infinity (not JSON; many readers reject them)."""

    def refuse(token: str) -> None:
        raise ValueError(f"{path.name} holds {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def version_dir(trained_model: TrainingResult) -> Path:
    return trained_model.version_dir


@pytest.fixture(scope="module")
def metadata(version_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = strict_json(version_dir / METADATA_FILE)
    return loaded


@pytest.fixture(scope="module")
def tables(small_data_dir: Path) -> tuple[ApplicationTable, ApplicationTable]:
    return load_reference_and_new(small_data_dir)


@pytest.fixture(scope="module")
def booster(version_dir: Path) -> lgb.Booster:
    return lgb.Booster(model_file=str(version_dir / MODEL_FILE))


@pytest.fixture(scope="module")
def model(version_dir: Path) -> ScoringModel:
    return ScoringModel.load(version_dir)


@pytest.fixture(scope="module")
def x_new(model: ScoringModel, tables: tuple[ApplicationTable, ApplicationTable]) -> np.ndarray:
    return transform_batch(model.spec, tables[1].columns)


@pytest.fixture
def version_copy(version_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the version folder, free to tamper with."""
    target = tmp_path / version_dir.name
    shutil.copytree(version_dir, target)
    return target


# ----------------------------------------------------------------------- ONNX parity


@slow
def test_onnx_and_lightgbm_agree_on_every_new_client(
    model: ScoringModel,
    booster: lgb.Booster,
    tables: tuple[ApplicationTable, ApplicationTable],
    x_new: np.ndarray,
) -> None:
    new_clients = tables[1]
    native = booster.predict(x_new)
    onnx = model.score_columns(new_clients.columns)
    assert onnx.shape == (new_clients.n_rows,)
    assert np.max(np.abs(native - onnx)) <= 1e-5
    assert ((onnx >= 0) & (onnx <= 1)).all()
    assert np.std(onnx) > 0  # a real model, not a constant


@slow
def test_onnx_and_lightgbm_agree_on_reference_clients(
    model: ScoringModel, booster: lgb.Booster, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    x = transform_batch(model.spec, tables[0].columns)
    assert np.max(np.abs(booster.predict(x) - model.scorer.probabilities(x))) <= 1e-5


@slow
def test_parity_recorded_in_metadata(metadata: dict[str, Any]) -> None:
    parity = metadata["onnx_parity"]
    assert parity["n_new_clients_checked"] > 0
    assert 0 <= parity["max_abs_difference"] <= PARITY_TOLERANCE


@slow
def test_check_parity_refuses_an_onnx_model_of_another_booster(
    booster: lgb.Booster,
    tables: tuple[ApplicationTable, ApplicationTable],
    model: ScoringModel,
    x_new: np.ndarray,
) -> None:
    reference = tables[0]
    assert reference.target is not None
    x = transform_batch(model.spec, reference.columns)
    other = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbosity": -1, "seed": 1, "num_threads": 1},
        lgb.Dataset(x, label=reference.target),
        num_boost_round=5,
    )
    exported = to_onnx(booster, x.shape[1]).SerializeToString()
    exported_other = to_onnx(other, x.shape[1]).SerializeToString()
    # Each booster agrees with its own export ...
    assert check_parity(booster, exported, x_new) <= PARITY_TOLERANCE
    assert check_parity(other, exported_other, x_new) <= PARITY_TOLERANCE
    # ... and not with the other's.
    with pytest.raises(ExportParityError, match="disagree"):
        check_parity(other, exported, x_new)
    with pytest.raises(ExportParityError):
        check_parity(booster, exported_other, x_new)


def test_export_keeps_the_decision_at_a_split_between_adjacent_float32_values() -> None:
    """LightGBM compares float64(x) <= a float64 threshold; ONNX compares in float32.

    A split between two neighbouring float32 values has a threshold that rounds (to nearest)
    up to the larger one, so the exported tree sends that value the other way. Rounding each
    threshold down to float32 keeps every float32 input on the same side.
    """
    upper = np.float32(0.649271)
    lower = np.nextafter(upper, np.float32(-np.inf))
    rng = np.random.default_rng(0)
    n = 400
    x = np.column_stack(
        [np.where(np.arange(n) % 2 == 0, lower, upper), rng.random(n).astype(np.float32)]
    ).astype(np.float32)
    y = (x[:, 0] == upper).astype(int)
    params = {
        "objective": "binary",
        "verbosity": -1,
        "min_data_in_leaf": 5,
        "min_data_in_bin": 1,
        "num_leaves": 2,
        "seed": 0,
        "num_threads": 1,
    }
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=3)
    threshold = booster.dump_model()["tree_info"][0]["tree_structure"]["threshold"]
    assert float(lower) < threshold < float(upper)  # the split separates them in float64
    probe = np.array([[lower, 0.5], [upper, 0.5]], dtype=np.float32)
    native = booster.predict(probe)
    assert native[1] > native[0]
    # As exported without the fix, the tree sends the upper value the wrong way.
    with pytest.raises(ExportParityError):
        check_parity(booster, to_onnx(booster, 2).SerializeToString(), probe)
    # Training lowers the thresholds before export: same predictions, and parity holds.
    fixed = float32_thresholds(booster)
    assert np.array_equal(fixed.predict(probe), native)
    assert check_parity(fixed, to_onnx(fixed, 2).SerializeToString(), probe) <= PARITY_TOLERANCE


@slow
def test_onnx_graph_has_one_probability_output(booster: lgb.Booster, x_new: np.ndarray) -> None:
    graph = to_onnx(booster, x_new.shape[1]).graph
    assert [i.name for i in graph.input] == ["features"]
    assert [o.name for o in graph.output] == ["probabilities"]


@slow
def test_treeshap_contributions_add_up_to_the_raw_score(
    booster: lgb.Booster, x_new: np.ndarray
) -> None:
    contributions = booster.predict(x_new, pred_contrib=True)
    assert contributions.shape == (x_new.shape[0], x_new.shape[1] + 1)
    raw = booster.predict(x_new, raw_score=True)
    assert np.max(np.abs(contributions.sum(axis=1) - raw)) <= 1e-6


# ----------------------------------------------------------------------- metadata contract


@slow
def test_metadata_holds_every_contract_key(
    metadata: dict[str, Any], trained_model: TrainingResult, model: ScoringModel
) -> None:
    missing = [k for k in METADATA_KEYS if k not in metadata]
    assert missing == []
    assert [k for k in METRIC_KEYS if k not in metadata["metrics"]] == []
    assert metadata["model_version"] == trained_model.model_version == model.version
    assert metadata["model_version"] == trained_model.version_dir.name
    assert metadata["features"] == list(model.spec.features)
    assert len(metadata["features"]) == len(set(metadata["features"]))
    assert metadata["encodings"] == {c.column: list(c.levels) for c in model.spec.one_hot}
    assert metadata["clip_limits"] == {k: list(v) for k, v in model.spec.clip_limits.items()}
    assert metadata["dropped_columns"] == model.spec.dropped_columns
    assert (metadata["cost_fn"], metadata["cost_fp"]) == (10.0, 1.0)
    assert metadata["created_at"].endswith("+00:00")
    assert 0.5 < metadata["metrics"]["cv_auc"] < 1.0
    assert 0 < metadata["metrics"]["brier"] < 0.25
    for key in ("recall", "precision"):
        assert 0 <= metadata["metrics"][key] <= 1


@slow
def test_comparison_table_has_every_candidate(metadata: dict[str, Any]) -> None:
    rows = {(r["model"], r["imbalance"]): r for r in metadata["comparison"]}
    expected = {("dummy", "none")}
    expected |= {(m, i) for m in ("logistic", "lightgbm") for i in IMBALANCES}
    assert expected <= rows.keys()
    # The prior differs a little between folds, hence not exactly 0.5.
    assert rows["dummy", "none"]["auc"] == pytest.approx(0.5, abs=0.02)
    for key in expected - {("dummy", "none")}:
        assert rows[key]["auc"] > 0.55, key


@slow
def test_chosen_model_is_the_cheapest_lightgbm(metadata: dict[str, Any]) -> None:
    cost = metadata["metrics"]["cv_cost_per_client"]
    lightgbm_costs = [
        r["cost_per_client"] for r in metadata["comparison"] if r["model"].startswith("lightgbm")
    ]
    assert cost <= min(lightgbm_costs) + 1e-5
    # Better than refusing nobody (the dummy's cost) on this data.
    (dummy,) = [r for r in metadata["comparison"] if r["model"] == "dummy"]
    assert cost < dummy["cost_per_client"]


@slow
def test_threshold_is_the_cost_optimum_of_the_chosen_out_of_fold_probabilities(
    metadata: dict[str, Any], trained_model: TrainingResult, small_data_dir: Path
) -> None:
    threshold = metadata["threshold"]
    assert 0 < threshold < 1
    # Training fits on the reference clients less the held-out ones (training.holdout).
    reference = split_reference(
        load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    ).training
    assert reference.target is not None
    weights = CostWeights(metadata["cost_fn"], metadata["cost_fp"])
    expected, cost = best_threshold(reference.target, trained_model.chosen.oof_probability, weights)
    assert threshold == pytest.approx(expected, abs=1e-12)
    assert metadata["metrics"]["cv_cost_per_client"] == pytest.approx(cost)


@slow
def test_training_data_fingerprint(
    metadata: dict[str, Any],
    small_data_dir: Path,
    tables: tuple[ApplicationTable, ApplicationTable],
) -> None:
    data = metadata["training_data"]
    assert data["sha256"] == sha256_of(small_data_dir / TRAIN_FILE)
    assert data["n_clients"] == split_reference(tables[0]).training.n_rows
    assert data["n_clients_in_file"] == tables[0].n_rows
    assert 0.03 < data["default_rate"] < 0.15
    assert data["sha256"][:8] in metadata["model_version"]


@slow
def test_sha256_of_every_file_in_the_folder(metadata: dict[str, Any], version_dir: Path) -> None:
    files = {
        p.relative_to(version_dir).as_posix()
        for p in version_dir.rglob("*")
        if p.is_file() and p.name != METADATA_FILE
    }
    assert {ONNX_FILE, MODEL_FILE, REFERENCE_STATS_FILE, IMPORTANCE_FILE} <= files
    assert set(metadata["sha256"]) == files
    for name, recorded in metadata["sha256"].items():
        assert recorded == sha256_of(version_dir / name), name


@slow
def test_every_json_file_is_strict_json(version_dir: Path) -> None:
    for path in version_dir.rglob("*.json"):
        strict_json(path)


@slow
def test_latest_resolves_to_the_version(trained_model: TrainingResult, version_dir: Path) -> None:
    latest = version_dir.parent / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == version_dir.resolve()
    assert resolve_version_dir(latest) == version_dir.resolve()
    assert ScoringModel.load(latest).version == trained_model.model_version
    # No staging folder is left behind.
    assert sorted(p.name for p in version_dir.parent.iterdir()) == sorted(
        [version_dir.name, "latest"]
    )


# ----------------------------------------------------------------------- statistics files


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested JSON structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@slow
def test_reference_stats_hold_only_aggregates(
    version_dir: Path, metadata: dict[str, Any], tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    stats = strict_json(version_dir / REFERENCE_STATS_FILE)
    assert stats["min_bin_count"] == MIN_BIN_COUNT == 5
    assert stats["percentiles"] == list(range(1, 100))
    assert list(stats["features"]) == metadata["features"]
    longest = max(len(v) for _, v in _walk(stats) if isinstance(v, list))
    assert longest <= len(PERCENTILES)  # nothing with one entry per client
    assert not any("SK_ID" in key or "TARGET" in key for key, _ in _walk(stats))
    assert stats["n_clients"] == split_reference(tables[0]).training.n_rows


def _count_lists(stats: dict[str, Any]) -> Iterator[tuple[str, str, list[int | None]]]:
    for feature, entry in stats["features"].items():
        if entry["kind"] == "binary":
            for group, counts in entry["counts"].items():
                yield feature, f"counts/{group}", counts
        elif entry["histogram"] is not None:
            for group in ("all", "repaid", "defaulted"):
                yield feature, f"histogram/{group}", entry["histogram"][group]


@slow
def test_reference_stats_suppress_small_bins(version_dir: Path) -> None:
    stats = strict_json(version_dir / REFERENCE_STATS_FILE)
    n_lists = 0
    for feature, where, counts in _count_lists(stats):
        n_lists += 1
        small = [c for c in counts if c is not None and 0 < c < MIN_BIN_COUNT]
        assert small == [], f"{feature} {where}: {counts}"
    assert n_lists > 100


@slow
def test_suppressed_counts_cannot_be_recovered_by_differencing(version_dir: Path) -> None:
    """Hiding a small cell is pointless if the total minus the shown cells gives it back.

    For a 0/1 feature the class size is published, so hiding one of the two counts while
    showing the other reveals it; likewise a histogram bin hidden for one class while the
    bin of all clients and the bin of the other class are shown.
    """
    stats = strict_json(version_dir / REFERENCE_STATS_FILE)
    sizes = {"all": stats["n_clients"], **stats["n_by_class"]}
    recovered: list[str] = []
    for feature, entry in stats["features"].items():
        if entry["kind"] == "binary":
            for group, (zeros, ones) in entry["counts"].items():
                if (zeros is None) != (ones is None):
                    hidden = sizes[group] - (zeros if ones is None else ones)
                    recovered.append(f"{feature} {group}: {hidden}")
        elif entry["histogram"] is not None:
            h = entry["histogram"]
            for b, (total, repaid, defaulted) in enumerate(
                zip(h["all"], h["repaid"], h["defaulted"], strict=True)
            ):
                if total is not None and (repaid is None) != (defaulted is None):
                    hidden = total - (defaulted if repaid is None else repaid)
                    recovered.append(f"{feature} bin {b}: {hidden}")
    assert recovered == [], f"{len(recovered)} hidden cells recoverable, e.g. {recovered[:5]}"


@slow
def test_global_importance_lists_every_feature_once(
    version_dir: Path, metadata: dict[str, Any]
) -> None:
    importance = strict_json(version_dir / IMPORTANCE_FILE)
    names = [f["feature"] for f in importance["features"]]
    assert sorted(names) == sorted(metadata["features"])
    assert len(names) == len(set(names))
    values = [f["mean_abs_shap"] for f in importance["features"]]
    assert all(v is not None and v >= 0 for v in values)
    assert values == sorted(values, reverse=True)
    assert values[0] > 0
    assert importance["n_clients_sampled"] > 0


# ----------------------------------------------------------------------- integrity


@slow
def test_untouched_copy_loads_and_scores_the_same(
    version_copy: Path, model: ScoringModel, x_new: np.ndarray
) -> None:
    copy = ScoringModel.load(version_copy)
    assert copy.version == model.version
    assert np.array_equal(copy.scorer.probabilities(x_new), model.scorer.probabilities(x_new))


def _append_byte(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\0")


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@slow
@pytest.mark.parametrize(
    ("name", "tamper"),
    [
        (ONNX_FILE, _append_byte),
        (ONNX_FILE, _flip_a_byte),
        (MODEL_FILE, _flip_a_byte),
        (REFERENCE_STATS_FILE, _append_byte),
        ("report/roc.png", _append_byte),
        (ONNX_FILE, Path.unlink),
    ],
)
def test_tampered_version_is_refused(version_copy: Path, name: str, tamper: Any) -> None:
    """`creditscore publish` checks every file; the reader of each file checks it too."""
    tamper(version_copy / name)
    with pytest.raises(ModelIntegrityError, match=name.split("/")[-1]):
        verify_version(version_copy)
    metadata = json.loads((version_copy / METADATA_FILE).read_text())
    with pytest.raises(ModelIntegrityError, match=name.split("/")[-1]):
        read_verified(version_copy, metadata, name)


@slow
@pytest.mark.parametrize("tamper", [_append_byte, _flip_a_byte, Path.unlink])
def test_scoring_model_refuses_a_tampered_onnx(version_copy: Path, tamper: Any) -> None:
    tamper(version_copy / ONNX_FILE)
    with pytest.raises(ModelIntegrityError, match=ONNX_FILE):
        ScoringModel.load(version_copy)


@slow
@pytest.mark.parametrize(
    "name",
    [MODEL_FILE, IMPORTANCE_FILE, PROFILES_FILE, REFERENCE_STATS_FILE, "report/roc.png"],
)
def test_scoring_model_reads_no_other_file(
    version_copy: Path, model: ScoringModel, x_new: np.ndarray, name: str
) -> None:
    """Scoring verifies model.onnx only: a file it does not read cannot stop it."""
    _flip_a_byte(version_copy / name)
    copy = ScoringModel.load(version_copy)
    assert np.array_equal(copy.scorer.probabilities(x_new), model.scorer.probabilities(x_new))
    with pytest.raises(ModelIntegrityError, match=name.split("/")[-1]):
        copy.read_file(name)


@slow
def test_version_without_a_recorded_onnx_hash_is_refused(version_copy: Path) -> None:
    metadata = json.loads((version_copy / METADATA_FILE).read_text())
    del metadata["sha256"][ONNX_FILE]
    (version_copy / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(ModelIntegrityError, match="no sha256"):
        ScoringModel.load(version_copy)


def test_folder_without_metadata_is_not_a_version(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError):
        resolve_version_dir(tmp_path)


def test_publish_version_switches_latest_and_refuses_duplicates(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    for version in ("v1", "v2"):
        staging = tmp_path / f"staging-{version}"
        staging.mkdir()
        (staging / METADATA_FILE).write_text(json.dumps({"model_version": version}))
        final = publish_version(staging, artifacts, version)
        assert final == artifacts / version
        assert not staging.exists()
        assert resolve_version_dir(artifacts / "latest") == final.resolve()
    again = tmp_path / "staging-again"
    again.mkdir()
    with pytest.raises(FileExistsError):
        publish_version(again, artifacts, "v1")
    assert again.is_dir()  # nothing was moved


# ----------------------------------------------------------------------- MLflow


@slow
def test_mlflow_run_and_registered_model(
    trained_model: TrainingResult, training_tracking_uri: str, metadata: dict[str, Any]
) -> None:
    from mlflow import MlflowClient

    from training.tracking import EXPERIMENT_NAME, REGISTERED_MODEL_NAME

    client = MlflowClient(tracking_uri=training_tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.model_version = '{trained_model.model_version}'",
    )
    assert len(runs) == 1
    run = runs[0]
    assert run.data.metrics["cv_auc"] == pytest.approx(metadata["metrics"]["cv_auc"])
    assert run.data.metrics["threshold"] == pytest.approx(metadata["threshold"])
    for name, figures in metadata["ablations"].items():
        for key, value in figures.items():
            assert run.data.metrics[f"ablation.{name}.{key}"] == pytest.approx(value)
    for key in ("lower", "upper", "share_of_new_clients"):
        assert run.data.metrics[f"borderline.{key}"] == pytest.approx(metadata["borderline"][key])
    assert run.data.params["monotone_constraints.AMT_CREDIT"] == "1"

    assert trained_model.registered_version is not None
    registered = client.get_model_version(REGISTERED_MODEL_NAME, trained_model.registered_version)
    assert registered.run_id == run.info.run_id
    assert registered.tags["model_version"] == trained_model.model_version
    candidate = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "candidate")
    assert str(candidate.version) == trained_model.registered_version


# ----------------------------------------------------------------------- JSON-safe comparison


def test_comparison_row_of_a_model_that_refuses_nobody_is_strict_json() -> None:
    """metadata.json is written with allow_nan=False, so every comparison row must be finite.

    With the default weights (a default costs 10 refusals), the prior-only dummy is cheapest
    when it refuses nobody as soon as the default rate is below 1/11 (the real rate is 8%):
    its best threshold is +inf, which is not JSON.
    """
    y = np.r_[np.ones(8), np.zeros(92)].astype(np.int8)
    x = np.zeros((100, 3), dtype=np.float32)
    result = cross_validate_dummy(x, y, FoldPlan.stratified(y, 4, 0), CostWeights())
    row = result.table_row()
    json.dumps(row, allow_nan=False)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in row.values())
