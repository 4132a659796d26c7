"""Shared fixtures: a small generated data set, an isolated MLflow store, one trained model.

The expensive fixtures are built once per test run, even under xdist: the first worker that
needs one builds it under a file lock in the run's shared temporary folder, and the other
workers reuse the pickled result. (With pytest 9.2 and pytest-xdist 3.8, ``--dist loadgroup``
does not actually keep an ``xdist_group`` on one worker, so grouping alone is not enough.)
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# LightGBM's OpenMP threads spin while they wait. With two xdist workers each training with
# two threads on two cores, that spinning made training 15-50 times slower; a passive wait
# costs nothing. It must be set before LightGBM (and its libgomp) is loaded, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from training.data import NEW_CLIENTS_FILE, TRAIN_FILE

if TYPE_CHECKING:
    from training.train import TrainingResult

#: Size of the shared data set: enough for 5-fold CV on ~8% defaults, small enough to be fast.
SMALL_N_TRAIN = 6000
SMALL_N_NEW = 1500
SMALL_SEED = 7

T = TypeVar("T")


def tracking_uri_in(folder: Path) -> str:
    """An MLflow tracking URI for a SQLite store in ``folder/mlflow``.

    Not directly in ``folder``: the project keeps MLflow's artifacts in an ``artifacts``
    folder beside the database, the name the tests also use for model versions.
    """
    store = folder / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store}/mlflow.db"


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]
) -> T:
    """``build(empty_folder)`` run once per test run, shared by every xdist worker.

    Without xdist it simply runs. With xdist, the result is pickled next to the workers'
    temporary folders; a failure is recorded too, so that other workers fail fast with the
    original traceback instead of repeating a long build.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    root.mkdir(exist_ok=True)
    done = root / "result.pickle"
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                work = root / "work"
                shutil.rmtree(work, ignore_errors=True)  # left by a worker that died
                work.mkdir()
                outcome: tuple[str, Any]
                try:
                    outcome = ("ok", build(work))
                except BaseException:
                    outcome = ("error", traceback.format_exc())
                    done.write_bytes(pickle.dumps(outcome))
                    raise
                done.write_bytes(pickle.dumps(outcome))
                return outcome[1]  # type: ignore[no-any-return]
            status, value = pickle.loads(done.read_bytes())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if status == "error":
        raise RuntimeError(f"shared fixture {name!r} failed in another worker:\n{value}")
    return value  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _isolated_mlflow(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own MLflow store: nothing is ever written under the repository.

    The store lives in a folder of its own rather than in ``tmp_path``: MLflow keeps its
    artifacts in ``artifacts/`` beside the database, a name tests use for model versions.
    """
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri_in(tmp_path_factory.mktemp("mlflow")))


def _generate_small(folder: Path) -> Path:
    from training.generate import generate

    generate(folder, n_train=SMALL_N_TRAIN, n_new=SMALL_N_NEW, seed=SMALL_SEED, progress=False)
    return folder


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated data set (the Kaggle file names), written once per run.

    Treat it as read-only: tests that corrupt files copy them first.
    """
    folder = build_once(tmp_path_factory, "small_data", _generate_small)
    assert (folder / TRAIN_FILE).is_file() and (folder / NEW_CLIENTS_FILE).is_file()
    return folder


@pytest.fixture(scope="session")
def shared_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[Path], T]], T]:
    """:func:`build_once` for test modules: ``shared_build(name, build)``."""

    def shared(name: str, build: Callable[[Path], T]) -> T:
        return build_once(tmp_path_factory, name, build)

    return shared


@pytest.fixture(scope="session")
def _trained_run(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainingResult, str]:
    """The shared training run and the MLflow tracking URI it was logged to."""
    from training.train import TrainConfig, train

    def run(folder: Path) -> tuple[TrainingResult, str]:
        uri = tracking_uri_in(folder)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", uri)
            result = train(small_data_dir, folder / "artifacts", TrainConfig.quick(progress=False))
        return result, uri

    return build_once(tmp_path_factory, "trained_model", run)


@pytest.fixture(scope="session")
def trained_model(_trained_run: tuple[TrainingResult, str]) -> TrainingResult:
    """One quick training run on ``small_data_dir``; returns its TrainingResult.

    Treat the version folder as read-only: tests that tamper with files copy it first.
    """
    return _trained_run[0]


@pytest.fixture(scope="session")
def training_tracking_uri(_trained_run: tuple[TrainingResult, str]) -> str:
    """The MLflow store the ``trained_model`` run was logged to."""
    return _trained_run[1]


@pytest.fixture(scope="session")
def publish_local(trained_model: TrainingResult, small_data_dir: Path) -> Callable[[Path], Path]:
    """Publish ``trained_model`` and the new clients into a local store at a given root.

    A factory, not a shared store: each module gets its own store and may write to it.
    """
    from creditscore_common.store.local import LocalStore
    from training.publish import publish

    def to(root: Path) -> Path:
        store = LocalStore(root, create=True)
        try:
            publish(trained_model.version_dir, small_data_dir, store, progress=False)
        finally:
            store.close()
        return root

    return to


@pytest.fixture(scope="session")
def drift_run(
    small_data_dir: Path, trained_model: TrainingResult, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """`creditscore drift` of ``small_data_dir`` with ``trained_model``, once per run.

    Returns monitoring.drift.DriftRun (summary, paths of the JSON and HTML files, timings).
    """
    from monitoring.drift import run_drift

    def run(folder: Path) -> Any:
        return run_drift(small_data_dir, trained_model.version_dir, folder / "report")

    return build_once(tmp_path_factory, "drift_run", run)


#: The region of the mocked AWS account (template.yaml's stacks run in eu-west-3).
MOCK_AWS_REGION = "eu-west-3"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and no shared config: nothing can reach a real account (moto)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": MOCK_AWS_REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
