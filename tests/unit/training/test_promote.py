"""The model's life cycle: promote (better, worse, tolerance, force), activate and rollback.

Promote runs on the shared trained version and on copies of it whose only change is the
threshold (a version that accepts nearly everyone costs more on the same clients); the
lifecycle commands on small fake versions. Every command goes through ``main``, as a user
runs it: exit codes and messages are part of the contract.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import creditscore_common.store.local as local_module
from creditscore_common import model_card
from creditscore_common.store.base import HISTORY_FILE, PROMOTIONS_PREFIX, rollback_target
from creditscore_common.store.local import PUBLISH_MARKER, LocalStore
from creditscore_common.version import METADATA_FILE
from training import promote as promote_module
from training import tracking
from training.cli import EXIT_INVALID_INPUT, EXIT_PROMOTION_REFUSED, main
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, load_applications
from training.holdout import split_reference
from training.promote import HoldoutFigures, promotion_verdict
from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")


# ---------------------------------------------------------------------------- the rule


def figures(version: str, auc: float, cost: float) -> HoldoutFigures:
    return HoldoutFigures(version, 0.1, auc, cost, 0.2, 0.5, 0.3, 1000)


ACTIVE = figures("active", auc=0.750, cost=0.600)


@pytest.mark.parametrize(
    ("auc", "cost", "tolerance", "accepted"),
    [
        (0.760, 0.590, 0.005, True),  # better on both
        (0.750, 0.600, 0.005, True),  # equal: no worse
        (0.760, 0.601, 0.005, False),  # costlier, however good its AUC
        (0.747, 0.590, 0.005, True),  # cheaper, AUC 0.003 lower: within the tolerance
        (0.747, 0.590, 0.001, False),  # the same, with a tighter tolerance
        (0.740, 0.590, 0.005, False),  # cheaper, AUC 0.010 lower: beyond
    ],
)
def test_promotion_rule(auc: float, cost: float, tolerance: float, accepted: bool) -> None:
    verdict = promotion_verdict(figures("candidate", auc, cost), ACTIVE, tolerance)
    assert verdict.accepted is accepted
    assert ("no worse than active" in verdict.reason) is accepted


def test_nothing_to_beat_without_an_active_version() -> None:
    verdict = promotion_verdict(figures("candidate", 0.5, 9.0), None, 0.0)
    assert verdict.accepted and "nothing to beat" in verdict.reason


# ---------------------------------------------------------------------------- helpers


def variant(version_dir: Path, root: Path, name: str, **changes: Any) -> Path:
    """A copy of a version under another name with some metadata changed (files untouched)."""
    target = root / name
    shutil.copytree(version_dir, target)
    metadata = json.loads((target / METADATA_FILE).read_text())
    metadata.update(model_version=name, **changes)
    (target / METADATA_FILE).write_text(json.dumps(metadata))
    return target


def store_with(root: Path, *versions: Path) -> LocalStore:
    """A local store holding ``versions``, the first one active (published by "setup")."""
    store = LocalStore(root, create=True)
    for folder in versions:
        store.put_model_version(folder)
    if versions:
        store.activate_recorded(versions[0].name, "publish", "setup", "first")
    return store


def active_of(root: Path) -> str | None:
    return (root / "models" / "active").read_text().strip()


def history_of(root: Path) -> list[dict[str, Any]]:
    path = root / "models" / HISTORY_FILE
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def candidate(trained_model: TrainingResult, tmp_path: Path) -> Path:
    return variant(trained_model.version_dir, tmp_path / "versions", trained_model.model_version)


@pytest.fixture
def lax(trained_model: TrainingResult, tmp_path: Path) -> Path:
    """The same model refusing only the riskiest 1%: more defaults granted, a higher cost."""
    return variant(trained_model.version_dir, tmp_path / "versions", "20200101-000000-laxlaxla",
                   threshold=0.9)  # fmt: skip


def promote_cli(candidate: Path, root: Path, data: Path, *extra: str) -> int:
    return main(
        ["promote", "--candidate", str(candidate), "--store", f"local:{root}",
         "--data", str(data), "--by", "tester", *extra]
    )  # fmt: skip


# ---------------------------------------------------------------------------- promote


def test_holdout_is_recorded_and_never_fitted_on(
    trained_model: TrainingResult, small_data_dir: Path
) -> None:
    split = split_reference(load_applications(small_data_dir / TRAIN_FILE, with_target=True))
    metadata = trained_model.metadata
    assert metadata["holdout"] == split.record
    assert 0 < split.holdout.n_rows < split.training.n_rows
    assert metadata["training_data"]["n_clients"] == split.training.n_rows
    assert metadata["training_data"]["n_clients_in_file"] == (
        split.training.n_rows + split.holdout.n_rows
    )
    assert trained_model.chosen.oof_probability.size == split.training.n_rows


def test_first_promote_has_nothing_to_beat(
    candidate: Path, small_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_with(tmp_path / "store").close()
    assert promote_cli(candidate, tmp_path / "store", small_data_dir) == 0
    assert "nothing to beat" in capsys.readouterr().out
    assert active_of(tmp_path / "store") == candidate.name
    (event,) = history_of(tmp_path / "store")
    assert (event["action"], event["previous"], event["by"]) == ("promote", None, "tester")


def test_a_better_candidate_is_promoted_and_recorded(
    candidate: Path,
    lax: Path,
    small_data_dir: Path,
    tmp_path: Path,
    training_tracking_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A private copy of the MLflow store the candidate was registered in: aliases move.
    database = Path(training_tracking_uri.removeprefix("sqlite:///"))
    shutil.copyfile(database, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    root = tmp_path / "store"
    store_with(root, lax, candidate).close()

    assert promote_cli(candidate, root, small_data_dir) == 0
    out = capsys.readouterr().out
    assert f"candidate {candidate.name}: AUC" in out and f"active    {lax.name}: AUC" in out
    assert "PROMOTED" in out
    assert active_of(root) == candidate.name
    event = history_of(root)[-1]
    assert (event["action"], event["previous"], event["forced"]) == ("promote", lax.name, False)
    comparison = json.loads((root / "models" / PROMOTIONS_PREFIX / f"{candidate.name}.json")
                            .read_text())  # fmt: skip
    assert comparison["verdict"] == "accepted" and comparison["activated"] is True
    assert comparison["candidate"]["cost_per_client"] < comparison["active"]["cost_per_client"]
    assert comparison["candidate"]["auc"] == pytest.approx(comparison["active"]["auc"])
    assert (
        comparison["holdout"]["fingerprint"]
        == json.loads((candidate / METADATA_FILE).read_text())["holdout"]["fingerprint"]
    )
    # Not inside the version's folder: its files stay exactly the hashed ones.
    assert not (root / "models" / candidate.name / "promotion.json").exists()

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    registered = tracking.registry_version(client, candidate.name)
    assert registered is not None
    for alias in (tracking.CHAMPION_ALIAS, tracking.CHALLENGER_ALIAS):
        found = client.get_model_version_by_alias(tracking.REGISTERED_MODEL_NAME, alias)
        assert str(found.version) == registered, alias
    runs = mlflow.search_runs(
        experiment_names=[tracking.EXPERIMENT_NAME], filter_string="tags.kind = 'promotion'"
    )
    assert len(runs) == 1 and runs.iloc[0]["tags.verdict"] == "accepted"


def test_a_worse_candidate_is_refused_with_exit_4_and_both_figures(
    candidate: Path, lax: Path, small_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    root = tmp_path / "store"
    store_with(root, candidate, lax).close()
    before = history_of(root)
    assert promote_cli(lax, root, small_data_dir) == EXIT_PROMOTION_REFUSED
    out = capsys.readouterr().out
    assert "REFUSED" in out and "costlier" in out
    assert f"candidate {lax.name}: AUC" in out and f"active    {candidate.name}: AUC" in out
    assert active_of(root) == candidate.name and history_of(root) == before
    comparison = json.loads((root / "models" / PROMOTIONS_PREFIX / f"{lax.name}.json").read_text())
    assert (comparison["verdict"], comparison["activated"]) == ("refused", False)


def test_force_activates_a_worse_candidate_and_says_so(
    candidate: Path, lax: Path, small_data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    root = tmp_path / "store"
    store_with(root, candidate, lax).close()
    assert promote_cli(lax, root, small_data_dir, "--force") == EXIT_INVALID_INPUT
    assert "--force needs a reason" in capsys.readouterr().err
    assert active_of(root) == candidate.name
    assert promote_cli(lax, root, small_data_dir, "--force", "--reason", "incident 42") == 0
    assert "FORCED" in capsys.readouterr().out
    event = history_of(root)[-1]
    assert (event["version"], event["forced"]) == (lax.name, True)
    assert "incident 42" in event["reason"] and "forced" in event["reason"]


def test_the_auc_tolerance_decides_between_cost_and_ranking(
    candidate: Path, lax: Path, small_data_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A cheaper candidate whose AUC is 0.003 lower: in with 0.005, out with 0.001."""
    measured = {candidate.name: (0.750, 0.600), lax.name: (0.747, 0.590)}

    def fake(model: Any, clients: Any, weights: Any) -> HoldoutFigures:
        auc, cost = measured[model.version]
        return figures(model.version, auc, cost)

    monkeypatch.setattr(promote_module, "holdout_figures", fake)
    root = tmp_path / "store"
    store_with(root, candidate, lax).close()
    refused = promote_cli(lax, root, small_data_dir, "--auc-tolerance", "0.001")
    assert refused == EXIT_PROMOTION_REFUSED and active_of(root) == candidate.name
    assert promote_cli(lax, root, small_data_dir, "--auc-tolerance", "0.005") == 0
    assert active_of(root) == lax.name


def test_another_holdout_is_refused_with_exit_2(
    candidate: Path, small_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One value of one held-out client changed: not the clients the candidate recorded."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(small_data_dir / NEW_CLIENTS_FILE, data / NEW_CLIENTS_FILE)
    split = split_reference(load_applications(small_data_dir / TRAIN_FILE, with_target=True))
    held_out = str(int(split.holdout.ids[0]))
    with (small_data_dir / TRAIN_FILE).open(newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("AMT_INCOME_TOTAL")
    row = next(r for r in rows[1:] if r[0] == held_out)
    row[column] = str(float(row[column] or 0) + 1000.0)
    with (data / TRAIN_FILE).open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    store_with(tmp_path / "store").close()
    assert promote_cli(candidate, tmp_path / "store", data) == EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert "is not the one model" in err and "same clients with other values" in err
    assert "Traceback" not in err
    assert not (tmp_path / "store" / "models" / "active").exists()


# ---------------------------------------------------------------------------- activate, rollback


def fake_version(root: Path, name: str) -> Path:
    """A version folder whose files match their hashes (not loadable: no real ONNX)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(name.encode())
    digest = hashlib.sha256(name.encode()).hexdigest()
    metadata = {"model_version": name, "threshold": 0.5, "sha256": {"model.onnx": digest}}
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


@pytest.fixture
def three(tmp_path: Path) -> tuple[Path, list[str]]:
    """A store holding versions a, b and c, with a active."""
    versions = [fake_version(tmp_path / "v", name) for name in ("a-1", "b-2", "c-3")]
    root = tmp_path / "store"
    store_with(root, *versions).close()
    return root, [v.name for v in versions]


def lifecycle(root: Path, *args: str) -> int:
    return main([*args, "--store", f"local:{root}", "--by", "ops"])


def test_activate_records_who_when_why_and_what_was_active(three: tuple[Path, list[str]]) -> None:
    root, (a, b, _) = three
    assert lifecycle(root, "activate", b, "--reason", "hotfix") == 0
    assert active_of(root) == b
    event = history_of(root)[-1]
    assert {k: event[k] for k in ("version", "action", "by", "reason", "previous")} == {
        "version": b, "action": "activate", "by": "ops", "reason": "hotfix", "previous": a,
    }  # fmt: skip
    assert event["at"].endswith("+00:00")
    # Already active: nothing recorded.
    assert lifecycle(root, "activate", b) == 0 and len(history_of(root)) == 2


def test_rollback_walks_back_through_the_active_versions(three: tuple[Path, list[str]]) -> None:
    root, (a, b, c) = three
    assert lifecycle(root, "activate", b) == 0 and lifecycle(root, "activate", c) == 0
    assert lifecycle(root, "rollback", "--reason", "c misbehaves") == 0
    assert active_of(root) == b
    assert lifecycle(root, "rollback", "--reason", "b too") == 0
    assert active_of(root) == a
    assert lifecycle(root, "rollback", "--reason", "nothing left") == EXIT_INVALID_INPUT
    assert active_of(root) == a
    actions = [(e["action"], e["version"], e["previous"]) for e in history_of(root)]
    assert actions[-2:] == [("rollback", b, c), ("rollback", a, b)]
    assert rollback_target(history_of(root), a) is None


def test_rollback_needs_a_reason(three: tuple[Path, list[str]]) -> None:
    root, _ = three
    with pytest.raises(SystemExit) as exit_info:
        lifecycle(root, "rollback")
    assert exit_info.value.code == EXIT_INVALID_INPUT


def test_activate_refuses_an_unknown_or_altered_version(
    three: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, (a, b, _) = three
    assert lifecycle(root, "activate", "no-such-version") == EXIT_INVALID_INPUT
    assert "no-such-version is not in the store" in capsys.readouterr().err
    (root / "models" / b / "model.onnx").write_bytes(b"altered")
    assert lifecycle(root, "activate", b) == EXIT_INVALID_INPUT
    assert "model.onnx has sha256" in capsys.readouterr().err
    assert active_of(root) == a and len(history_of(root)) == 1


def test_a_switch_that_dies_is_reported_then_completed_once(
    three: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event is written, the process dies before the pointer: /health says so, and a
    rerun switches the pointer without a second event."""
    root, (a, b, _) = three
    real = local_module._write_aside

    def die_on_the_pointer(target: Path, text: str) -> None:
        if target.name == "active":
            raise OSError(28, "No space left on device", str(target))
        real(target, text)

    monkeypatch.setattr(local_module, "_write_aside", die_on_the_pointer)
    assert lifecycle(root, "activate", b) == EXIT_INVALID_INPUT
    assert active_of(root) == a and history_of(root)[-1]["version"] == b
    store = LocalStore(root)
    problem = store.health_problem()
    store.close()
    assert problem is not None and "did not finish" in problem
    assert (root / "models" / PUBLISH_MARKER).exists()
    monkeypatch.setattr(local_module, "_write_aside", real)
    assert lifecycle(root, "activate", b) == 0
    assert active_of(root) == b and [e["version"] for e in history_of(root)] == [a, b]
    assert not (root / "models" / PUBLISH_MARKER).exists()


def test_a_lifecycle_command_waits_for_no_running_publish(
    three: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, (a, b, _) = three
    other = LocalStore(root)
    try:
        with other.publishing("x-9"):
            assert lifecycle(root, "activate", b) == EXIT_INVALID_INPUT
    finally:
        other.close()
    assert "another publish" in capsys.readouterr().err
    assert active_of(root) == a


def test_the_model_card_lists_the_history_newest_first(three: tuple[Path, list[str]]) -> None:
    root, (a, b, _) = three
    assert lifecycle(root, "activate", b, "--reason", "why not") == 0
    store = LocalStore(root)
    try:
        history = model_card.model_history(store)
    finally:
        store.close()
    assert history is not None
    assert [(e.version, e.action, e.previous) for e in history] == [
        (b, "activate", a), (a, "publish", None),
    ]  # fmt: skip
    assert history[0].by == "ops" and history[0].reason == "why not"


def test_publish_records_its_switch_and_no_activate_leaves_it(
    trained_model: TrainingResult, small_data_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    args = ["publish", "--model", str(trained_model.version_dir), "--data", str(small_data_dir),
            "--store", f"local:{root}", "--by", "ci"]  # fmt: skip
    assert main([*args, "--no-activate"]) == 0
    assert not (root / "models" / "active").exists()
    assert not (root / "models" / HISTORY_FILE).exists()
    with sqlite3.connect(root / "store.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM clients").fetchone()[0] > 0
    assert main([*args, "--reason", "monthly"]) == 0
    (event,) = history_of(root)
    assert (event["action"], event["by"], event["reason"]) == ("publish", "ci", "monthly")
