"""The store contract, and the local backend (folder + SQLite) that implements it.

:class:`StoreContract` holds the behaviour every backend must have; this file runs it on the
local store and test_store_aws.py runs the very same tests on the S3 + DynamoDB store (moto).
A test class provides the ``store`` fixture: an empty store of its backend.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from creditscore_common import decisions, schemas
from creditscore_common.errors import ClientNotFoundError, StoreUnavailableError
from creditscore_common.model import ScoringModel
from creditscore_common.settings import Settings
from creditscore_common.store import Store, open_store, settings_for_store_url
from creditscore_common.store.base import ACTIVE_POINTER, DECISION_FIELDS, MODELS_PREFIX
from creditscore_common.store.local import (
    DATABASE_FILE,
    PUBLISH_LOCK,
    PUBLISH_MARKER,
    WAL_SUFFIXES,
    LocalStore,
)
from creditscore_common.version import METADATA_FILE, ONNX_FILE
from training.train import TrainingResult

# A client as publish reads it: floats, ints stored as floats, categories, missing values.
APPLICATION: dict[str, Any] = {
    "NAME_CONTRACT_TYPE": "Cash loans",
    "CODE_GENDER": "F",
    "AMT_INCOME_TOTAL": 202500.0,
    "AMT_CREDIT": 406597.5,
    "AMT_ANNUITY": 0.1 + 0.2,  # 0.30000000000000004: must come back bit for bit
    "DAYS_BIRTH": -9461.0,
    "CNT_CHILDREN": 0.0,
    "EXT_SOURCE_2": 0.262948593442219,
    "EXT_SOURCE_3": 1e-300,
    "REGION_POPULATION_RELATIVE": 0.018801,
    "OCCUPATION_TYPE": "Laborers",
    "ORGANIZATION_TYPE": "Business Entity Type 3",
    "NAME_TYPE_SUITE": "Spouse, partner",  # comma, space and unicode survive
    "WEEKDAY_APPR_PROCESS_START": "MERCREDI — é",
    "EXT_SOURCE_1": None,  # missing values are omitted
    "OWN_CAR_AGE": math.nan,
}
PRESENT = {
    k: v
    for k, v in APPLICATION.items()
    if v is not None and not (isinstance(v, float) and math.isnan(v))
}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_fake_version(root: Path, version: str, payload: bytes = b"weights") -> Path:
    """A version folder with the shape publish uploads (not loadable: no real ONNX)."""
    folder = root / version
    (folder / "stats").mkdir(parents=True)
    files = {
        "model.onnx": payload,
        "model.txt": b"tree\n" + payload,
        "stats/reference_stats.json": b'{"n": 1}',
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    metadata = {
        "model_version": version,
        "threshold": 0.5,
        "sha256": {name: sha256_of(folder / name) for name in files},
    }
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def version_snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under a version folder."""
    return {
        p.relative_to(folder).as_posix(): sha256_of(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class StoreContract:
    """What every backend does; a subclass provides the ``store`` fixture (an empty store)."""

    @pytest.fixture
    def fake_version(self, tmp_path: Path) -> Path:
        return make_fake_version(tmp_path / "versions", "20260101-000000-aaaaaaaa")

    @pytest.fixture
    def other_fake_version(self, tmp_path: Path) -> Path:
        return make_fake_version(tmp_path / "versions", "20260102-000000-bbbbbbbb", b"other")

    # ------------------------------------------------------------ drift summary

    def test_no_drift_summary_before_one_is_published(self, store: Store) -> None:
        assert store.get_drift_summary() is None

    def test_drift_summary_round_trip_and_replacement(self, store: Store) -> None:
        first = {"verdict": "no drift", "drift_share": 0.04, "label": "Âge", "features": []}
        store.put_drift_summary(first)
        assert store.get_drift_summary() == first
        second = {**first, "verdict": "drift", "drift_share": 0.5}
        store.put_drift_summary(second)
        assert store.get_drift_summary() == second

    def test_drift_summary_refuses_nan(self, store: Store) -> None:
        with pytest.raises(ValueError):
            store.put_drift_summary({"drift_share": float("nan")})
        assert store.get_drift_summary() is None

    # ------------------------------------------------------------ model versions

    def test_empty_store_has_no_active_version(self, store: Store) -> None:
        assert store.active_version() is None

    def test_put_model_version_is_idempotent(self, store: Store, fake_version: Path) -> None:
        version = fake_version.name
        assert store.put_model_version(fake_version) == (version, True)
        assert store.put_model_version(fake_version) == (version, False)
        assert store.active_version() is None, "putting a version must not activate it"

    def test_put_model_version_copies_every_file(self, store: Store, fake_version: Path) -> None:
        version, _ = store.put_model_version(fake_version)
        assert version_snapshot(store.model_dir(version)) == version_snapshot(fake_version)

    def test_activate_switches_the_pointer(
        self, store: Store, fake_version: Path, other_fake_version: Path
    ) -> None:
        first, _ = store.put_model_version(fake_version)
        second, _ = store.put_model_version(other_fake_version)
        assert store.active_version() is None
        assert store.activate(first) is True
        assert store.active_version() == first
        assert store.activate(first) is False, "activating the active version changes nothing"
        assert store.active_version() == first
        assert store.activate(second) is True
        assert store.active_version() == second
        assert store.activate(first) is True, "rolling back is an activation too"
        assert store.active_version() == first

    @pytest.mark.xdist_group("trained_model")
    def test_model_dir_is_loadable(self, store: Store, trained_model: TrainingResult) -> None:
        version, copied = store.put_model_version(trained_model.version_dir)
        assert copied and version == trained_model.model_version
        store.activate(version)
        model = ScoringModel.load(store.model_dir(store.active_version() or ""))
        assert model.version == trained_model.model_version
        assert model.threshold == trained_model.metadata["threshold"]
        assert version_snapshot(model.folder) == version_snapshot(trained_model.version_dir)

    def test_model_dir_holds_the_named_files(self, store: Store, fake_version: Path) -> None:
        version, _ = store.put_model_version(fake_version)
        folder = store.model_dir(version, files=[ONNX_FILE])
        for name in (METADATA_FILE, ONNX_FILE):
            assert (folder / name).read_bytes() == (fake_version / name).read_bytes(), name

    # ------------------------------------------------------------ clients

    def test_get_client_round_trip_is_exact(self, store: Store) -> None:
        store.put_clients([(100002, APPLICATION)])
        got = store.get_client(100002)
        assert got == PRESENT
        for name, value in PRESENT.items():
            assert type(got[name]) is type(value), name
            if isinstance(value, float):
                assert got[name].hex() == value.hex(), name
        assert "EXT_SOURCE_1" not in got and "OWN_CAR_AGE" not in got

    def test_get_client_of_many(self, store: Store) -> None:
        rows = [(100_000 + i, {"AMT_CREDIT": 1000.0 + i, "CODE_GENDER": "M"}) for i in range(60)]
        store.put_clients(rows)
        assert store.get_client(100_037) == {"AMT_CREDIT": 1037.0, "CODE_GENDER": "M"}
        assert store.get_client(100_059) == {"AMT_CREDIT": 1059.0, "CODE_GENDER": "M"}

    def test_put_clients_updates_a_client(self, store: Store) -> None:
        store.put_clients([(7, {"AMT_CREDIT": 1.0})])
        store.put_clients([(7, {"AMT_CREDIT": 2.0, "CODE_GENDER": "F"})])
        assert store.get_client(7) == {"AMT_CREDIT": 2.0, "CODE_GENDER": "F"}

    def test_unknown_client(self, store: Store) -> None:
        store.put_clients([(100002, APPLICATION)])
        with pytest.raises(ClientNotFoundError) as caught:
            store.get_client(100003)
        assert caught.value.client_id == 100003
        assert isinstance(caught.value, LookupError)

    def test_unknown_client_in_empty_store(self, store: Store) -> None:
        with pytest.raises(ClientNotFoundError):
            store.get_client(0)

    def test_impossible_client_id_is_not_found(self, store: Store) -> None:
        """Any int may come from a URL: beyond 64 bits (SQLite) or 38 digits (DynamoDB)."""
        store.put_clients([(100002, APPLICATION)])
        for client_id in (2**63, 10**40):
            with pytest.raises(ClientNotFoundError):
                store.get_client(client_id)

    def test_put_no_clients(self, store: Store) -> None:
        assert store.put_clients([]) == 0


# ---------------------------------------------------------------------------- interface


def test_decision_fields_are_the_fields_of_the_api_record() -> None:
    """Every backend stores exactly the record the API returns, in its order."""
    assert tuple(schemas.DecisionRecord.model_fields) == DECISION_FIELDS
    # One record model: the decisions module answers with the schema's own class.
    assert decisions.DecisionRecord is schemas.DecisionRecord


def test_every_store_operation_is_abstract() -> None:
    """A backend that leaves an operation out cannot be made (no NotImplementedError later)."""
    operations = {
        name for name, member in vars(Store).items() if callable(member) and name[0] != "_"
    }
    # Optional hooks with a harmless default (the aws backend has no local files to check).
    assert operations - Store.__abstractmethods__ == {"close", "health_problem", "publishing"}
    methods = {name: lambda *_: None for name in operations - {"list_decisions"}}
    incomplete = type("Incomplete", (Store,), methods)
    with pytest.raises(TypeError, match="list_decisions"):
        incomplete()


# ---------------------------------------------------------------------------- local backend


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Any:
        store = LocalStore(tmp_path / "store", create=True)
        yield store
        store.close()

    def test_activate_unknown_version_is_refused(self, store: LocalStore) -> None:
        with pytest.raises(ValueError, match="not in the store"):
            store.activate("no-such-version")
        assert store.active_version() is None
        assert not (store.models_dir / ACTIVE_POINTER).exists()

    def test_pointer_is_one_file_replaced_whole(
        self, store: LocalStore, fake_version: Path, other_fake_version: Path
    ) -> None:
        first, _ = store.put_model_version(fake_version)
        second, _ = store.put_model_version(other_fake_version)
        store.activate(first)
        store.activate(second)
        pointer = store.models_dir / ACTIVE_POINTER
        assert pointer.read_text() == f"{second}\n"
        # No temporary file is left next to the versions (write aside, then rename).
        assert sorted(p.name for p in store.models_dir.iterdir()) == sorted(
            [first, second, ACTIVE_POINTER]
        )

    def test_put_model_version_leaves_no_staging(
        self, store: LocalStore, fake_version: Path
    ) -> None:
        store.put_model_version(fake_version)
        store.put_model_version(fake_version)
        assert [p.name for p in store.models_dir.iterdir()] == [fake_version.name]

    def test_failed_copy_leaves_nothing(self, store: LocalStore, fake_version: Path) -> None:
        (fake_version / "model.txt").unlink()  # listed in metadata, missing on disk
        with pytest.raises(FileNotFoundError):
            store.put_model_version(fake_version)
        assert list(store.models_dir.iterdir()) == []

    def test_put_clients_is_idempotent(self, store: LocalStore) -> None:
        rows = [(100_000 + i, {**APPLICATION, "AMT_CREDIT": 1000.0 + i}) for i in range(50)]
        assert store.put_clients(rows) == 50
        assert store.put_clients(rows) == 0, "rewriting the same rows must change nothing"
        assert store.count_clients() == 50
        changed = [(100_003, {"AMT_CREDIT": 5.0})]
        assert store.put_clients([*rows[:10], *changed]) == 1
        assert store.count_clients() == 50

    def test_same_client_in_other_key_order_is_unchanged(self, store: LocalStore) -> None:
        store.put_clients([(1, {"A_FIELD": 1.0, "B_FIELD": "x", "C_FIELD": None})])
        assert store.put_clients([(1, {"B_FIELD": "x", "A_FIELD": 1.0})]) == 0

    def test_data_survives_reopening(self, tmp_path: Path, fake_version: Path) -> None:
        root = tmp_path / "store"
        first = LocalStore(root, create=True)
        version, _ = first.put_model_version(fake_version)
        first.activate(version)
        first.put_clients([(100002, APPLICATION)])
        first.close()
        again = LocalStore(root)
        assert again.active_version() == version
        assert again.get_client(100002) == PRESENT
        again.close()

    def test_missing_folder_is_unavailable(self, tmp_path: Path) -> None:
        with pytest.raises(StoreUnavailableError, match="does not exist"):
            LocalStore(tmp_path / "nowhere")
        assert not (tmp_path / "nowhere").exists(), "opening must not create the store"

    def test_unreadable_database_is_unavailable(self, tmp_path: Path) -> None:
        root = tmp_path / "store"
        root.mkdir()
        (root / DATABASE_FILE).write_bytes(b"this is not an SQLite database" * 100)
        with pytest.raises(StoreUnavailableError):
            LocalStore(root)

    def test_closed_database_is_unavailable(self, tmp_path: Path) -> None:
        store = LocalStore(tmp_path / "store", create=True)
        store.close()
        with pytest.raises(StoreUnavailableError):
            store.get_client(1)

    def test_layout(self, store: LocalStore, fake_version: Path) -> None:
        version, _ = store.put_model_version(fake_version)
        store.activate(version)
        store.put_clients([(1, {"AMT_CREDIT": 1.0})])
        assert (store.root / MODELS_PREFIX / version / METADATA_FILE).is_file()
        with sqlite3.connect(store.root / DATABASE_FILE) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM clients").fetchone()
        assert count == 1

    # ------------------------------------------------------------ no empty database

    def test_a_folder_without_its_database_is_unavailable(self, tmp_path: Path) -> None:
        root = tmp_path / "store"
        (root / MODELS_PREFIX).mkdir(parents=True)
        with pytest.raises(StoreUnavailableError, match=f"{DATABASE_FILE} is missing"):
            LocalStore(root)
        assert sorted(p.name for p in root.iterdir()) == [MODELS_PREFIX], "nothing is made"

    def test_an_empty_database_file_is_not_a_store(self, tmp_path: Path) -> None:
        root = tmp_path / "store"
        root.mkdir()
        (root / DATABASE_FILE).touch()
        with pytest.raises(StoreUnavailableError, match="no clients table"):
            LocalStore(root)
        assert (root / DATABASE_FILE).stat().st_size == 0, "no table may be made in it"

    def test_create_refuses_a_log_without_its_database(self, tmp_path: Path) -> None:
        root = tmp_path / "store"
        root.mkdir()
        (root / f"{DATABASE_FILE}{WAL_SUFFIXES[0]}").write_bytes(b"frames")
        with pytest.raises(StoreUnavailableError, match=r"move .* aside"):
            LocalStore(root, create=True)
        assert not (root / DATABASE_FILE).exists()

    def test_a_deleted_database_is_neither_read_nor_written(self, store: LocalStore) -> None:
        store.put_clients([(1, {"AMT_CREDIT": 1.0})])
        assert store.health_problem() is None
        (store.root / DATABASE_FILE).unlink()
        for operation in (
            lambda: store.get_client(1),
            lambda: store.put_clients([(2, {"AMT_CREDIT": 2.0})]),
            lambda: store.add_decision(decision_record(1, "2026-01-01T00:00:00.000000Z#a")),
            lambda: store.list_decisions(1),
            store.count_clients,
        ):
            with pytest.raises(StoreUnavailableError, match=f"{DATABASE_FILE} was deleted"):
                operation()
        assert f"{DATABASE_FILE} was deleted" in (store.health_problem() or "")

    def test_a_deleted_log_is_not_written_either(self, store: LocalStore) -> None:
        store.put_clients([(1, {"AMT_CREDIT": 1.0})])
        wal = store.root / f"{DATABASE_FILE}{WAL_SUFFIXES[0]}"
        wal.unlink()  # the last commits live there until a checkpoint
        with pytest.raises(StoreUnavailableError, match=f"{wal.name} was deleted"):
            store.put_clients([(2, {"AMT_CREDIT": 2.0})])

    @pytest.mark.parametrize("suffix", ["", *WAL_SUFFIXES])
    def test_a_file_it_cannot_write_is_refused_before_sqlite_touches_it(
        self, store: LocalStore, monkeypatch: pytest.MonkeyPatch, suffix: str
    ) -> None:
        """As after ``chattr +i`` (tests/integration/test_store_faults.py does it for real)."""
        store.put_clients([(1, {"AMT_CREDIT": 1.0})])
        name = DATABASE_FILE + suffix
        real_access = os.access

        def access(path: Any, mode: int) -> bool:
            return not (Path(path).name == name and mode == os.W_OK) and real_access(path, mode)

        monkeypatch.setattr(os, "access", access)
        with pytest.raises(StoreUnavailableError, match=f"{name} cannot be written"):
            store.put_clients([(2, {"AMT_CREDIT": 2.0})])
        if suffix == "-shm":  # mapped, and written by reads too: SIGBUS if it were touched
            with pytest.raises(StoreUnavailableError, match=f"{name} cannot be written"):
                store.get_client(1)
        else:
            assert store.get_client(1) == {"AMT_CREDIT": 1.0}
        assert f"{name} cannot be written" in (store.health_problem() or "")
        monkeypatch.undo()
        assert store.put_clients([(2, {"AMT_CREDIT": 2.0})]) == 1
        assert store.health_problem() is None

    def test_decisions_beyond_sqlite_integers_are_none(self, store: LocalStore) -> None:
        assert store.list_decisions(2**63) == []

    # ------------------------------------------------------------ publish marker

    def test_publishing_marks_the_store_while_it_runs(self, store: LocalStore) -> None:
        with store.publishing("v2"):
            assert (store.models_dir / PUBLISH_MARKER).read_text() == "v2\n"
            assert store.health_problem() is None, "a running publish is not a fault"
            with (
                pytest.raises(StoreUnavailableError, match=r"another publish \(version v2\)"),
                store.publishing("v3"),
            ):
                pass
        assert not (store.models_dir / PUBLISH_MARKER).exists()
        assert store.health_problem() is None

    def test_a_failed_publish_leaves_its_marker(self, store: LocalStore) -> None:
        with pytest.raises(RuntimeError), store.publishing("v2"):
            raise RuntimeError("disk full")
        assert (store.models_dir / PUBLISH_MARKER).read_text() == "v2\n"
        assert store.health_problem() == (
            "a publish of version v2 did not finish (the active version is still None): "
            "rerun `creditscore publish`"
        )

    def test_the_next_publish_removes_what_a_dead_one_left(
        self, store: LocalStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        staging = store.models_dir / ".v2-abc_1234"
        staging.mkdir()
        (staging / "model.txt").write_text("tr")  # truncated by the kill
        pointer = store.models_dir / ".active-x1y2z3w4"
        pointer.write_text("v")
        keep = store.models_dir / "v1"
        keep.mkdir()
        assert staging.name in (store.health_problem() or "")
        caplog.set_level("WARNING")
        with store.publishing("v2"):
            assert not staging.exists() and not pointer.exists() and keep.is_dir()
        assert f"removed {staging.name}" in caplog.text
        assert f"removed {pointer.name}" in caplog.text
        assert sorted(p.name for p in store.models_dir.iterdir()) == [PUBLISH_LOCK, "v1"]
        assert store.health_problem() is None

    def test_open_store_from_settings(self, tmp_path: Path) -> None:
        settings = settings_for_store_url(f"local:{tmp_path / 'made'}", Settings())
        store = open_store(settings, create=True)
        assert isinstance(store, LocalStore) and store.root == tmp_path / "made"
        store.close()
        with pytest.raises(ValueError, match="unknown store"):
            settings_for_store_url("s3://bucket", Settings())


# ---------------------------------------------------------------------------- all decisions


def decision_record(client_id: int, decided_at: str, **fields: Any) -> dict[str, Any]:
    """A decision record with every :data:`DECISION_FIELDS` (``fields`` override)."""
    record: dict[str, Any] = {
        "client_id": client_id,
        "decided_at": decided_at,
        "decision": "accept",
        "comment": "",
        "advisor": "advisor@example.com",
        "probability": 0.05,
        "threshold": 0.1,
        "model_version": "20260101-000000-aaaaaaaa",
    }
    return {**record, **fields}


def check_all_decisions(store: Store) -> None:
    """Every client's decisions, oldest first, and nothing changed by reading them."""
    assert store.all_decisions() == []
    later = decision_record(2, "2026-01-02T00:00:00.000000Z#b", decision="refuse", probability=0.3)
    earlier = decision_record(1, "2026-01-01T00:00:00.000000Z#a", comment="revenus justifiés")
    second = decision_record(1, "2026-01-03T00:00:00.000000Z#c", probability=1e-7)
    for record in (later, earlier, second):
        store.add_decision(record)
    assert store.all_decisions() == [earlier, later, second]
    assert store.list_decisions(1) == [earlier, second]
    assert store.all_decisions() == [earlier, later, second]


def test_local_store_lists_every_decision(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", create=True)
    try:
        check_all_decisions(store)
    finally:
        store.close()


def test_local_all_decisions_on_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", create=True)
    store.close()
    with pytest.raises(StoreUnavailableError):
        store.all_decisions()


def test_local_history_is_one_file_replaced_whole(tmp_path: Path) -> None:
    """models/history.jsonl beside the pointer; a temporary copy a dead switch left goes."""
    store = LocalStore(tmp_path / "store", create=True)
    try:
        first = make_fake_version(tmp_path / "v", "20260101-000000-aaaaaaaa")
        store.put_model_version(first)
        (store.models_dir / ".history.jsonl-abcd1234").write_text("half")
        assert store.activate_recorded(first.name, "publish", "ci", "first")
        assert sorted(p.name for p in store.models_dir.iterdir()) == sorted(
            [first.name, ACTIVE_POINTER, "history.jsonl", PUBLISH_LOCK]
        )
        (event,) = store.model_history()
        assert (event["version"], event["previous"], event["by"]) == (first.name, None, "ci")
        (store.models_dir / "history.jsonl").write_text("not json\n")
        with pytest.raises(StoreUnavailableError, match="line 1 is not JSON"):
            store.model_history()
    finally:
        store.close()
