"""Faults of the local store under a running server (issue 13 §2, items 4 to 7).

4. The database deleted or replaced under the server, or missing at a restart.
5. The store's files made immutable (``chattr +i``) under a real ``creditscore serve``.
6. A file of the active model version altered, or a corrupted version activated, at runtime.
7. A publish killed half-way.

Each fault must give a clean 503 naming what is wrong, /health ``degraded`` with the same
reason, nothing written where it would be lost, and the service back once it is repaired.
(Item 10, decisions outliving their client row, is in test_decisions.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from settings_env import SETTINGS_ENV, clear_settings_env

from creditscore_common import reference_index
from creditscore_common.api import reset_caches
from creditscore_common.errors import ModelUnavailableError
from creditscore_common.provider import ModelProvider, check_served_file, served_file
from creditscore_common.store.base import ACTIVE_POINTER, MODELS_PREFIX
from creditscore_common.store.local import (
    DATABASE_FILE,
    PUBLISH_MARKER,
    WAL_SUFFIXES,
    LocalStore,
)
from creditscore_common.version import METADATA_FILE, MODEL_FILE, ONNX_FILE
from serving.local_server import build_app
from training.cli import EXIT_INVALID_INPUT, main

if TYPE_CHECKING:
    from training.train import TrainingResult

pytestmark = pytest.mark.xdist_group("trained_model")

TOKEN = "test-token-store-faults"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Applications every model scores (schemas.MINIMUM_FIELDS and one external score).
MINIMAL = {
    "AMT_INCOME_TOTAL": 150_000.0,
    "AMT_CREDIT": 500_000.0,
    "AMT_ANNUITY": 25_000.0,
    "DAYS_BIRTH": -14_000.0,
    "EXT_SOURCE_2": 0.5,
}
SERVER_START_SECONDS = 90.0


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def store(publish_local: Callable[[Path], Path], tmp_path: Path) -> Path:
    """A store of this test's own: the trained version active, the new clients in it."""
    return publish_local(tmp_path / "store")


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], TestClient]]:
    """Start (or restart: a new process in all but name) the local server app on a store.

    The active pointer and the model files are looked at on every request
    (MODEL_REFRESH_SECONDS=0), as a server does once its refresh period has passed.
    """

    def start(root: Path) -> TestClient:
        clear_settings_env(monkeypatch)
        monkeypatch.setenv("STORE_BACKEND", "local")
        monkeypatch.setenv("LOCAL_STORE_PATH", str(root))
        monkeypatch.setenv("API_TOKEN", TOKEN)
        monkeypatch.setenv("AUTH_MODE", "token")
        monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
        reset_caches()
        reference_index.clear_cache()
        return TestClient(build_app(), raise_server_exceptions=False)

    yield start
    reset_caches()


def first_client(root: Path) -> int:
    local = LocalStore(root)
    try:
        (client_id, _), *_ = local.list_clients(limit=1)[0]
    finally:
        local.close()
    return client_id


def decide(api: TestClient | httpx.Client, client_id: int, comment: str) -> Any:
    """Record a decision; a later one replaces the final decision (``supersedes``)."""
    # Accepting may go against the model: a reason code (any decision may carry one).
    body: dict[str, Any] = {"decision": "accept", "comment": comment, "reason_code": "autre"}
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH)
    if listed.status_code == 200 and listed.json().get("final"):
        body["supersedes"] = listed.json()["final"]["decided_at"]
    return api.post(f"/clients/{client_id}/decisions", json=body, headers=AUTH)


def refused(answer: Any, code: str, *parts: str) -> str:
    """The message of a clean 503 with this error code that says each of ``parts``."""
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == code, body
    assert "Traceback" not in answer.text
    for part in parts:
        assert part in body["message"], body["message"]
    return str(body["message"])


def degraded(api: TestClient | httpx.Client, *parts: str) -> dict[str, Any]:
    answer = api.get("/health")
    assert answer.status_code == 200, answer.text
    health: dict[str, Any] = answer.json()
    assert health["status"] == "degraded", health
    for part in parts:
        assert part in health["detail"], health["detail"]
    return health


def healthy(api: TestClient | httpx.Client) -> dict[str, Any]:
    answer = api.get("/health")
    assert answer.status_code == 200, answer.text
    health: dict[str, Any] = answer.json()
    assert health["status"] == "ok" and health["detail"] is None, health
    return health


def renamed_version(trained_model: TrainingResult, where: Path, suffix: str) -> tuple[Path, str]:
    """A copy of the trained version under another name (metadata.json is not hashed)."""
    version = f"{trained_model.model_version}-{suffix}"
    folder = where / version
    shutil.copytree(trained_model.version_dir, folder)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata["model_version"] = version
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return folder, version


def publish_args(model: Path, data: Path, root: Path) -> list[str]:
    return ["publish", "--model", str(model), "--data", str(data), "--store", f"local:{root}"]


# --------------------------------------------------------------------------- 4. database gone


def test_a_database_deleted_under_the_server_takes_no_decision(
    store: Path, serve: Callable[[Path], TestClient]
) -> None:
    api = serve(store)
    client_id = first_client(store)
    assert decide(api, client_id, "before").status_code == 201
    database = store / DATABASE_FILE
    aside = store.parent / "store.sqlite.moved"
    database.rename(aside)  # deleted, as far as the path goes
    for answer in (
        decide(api, client_id, "into the void"),
        api.get(f"/clients/{client_id}", headers=AUTH),
        api.get(f"/clients/{client_id}/decisions", headers=AUTH),
        api.get(f"/clients/{client_id}/score", headers=AUTH),
    ):
        refused(answer, "store_unavailable", f"{DATABASE_FILE} was deleted", "restart")
    degraded(api, f"{DATABASE_FILE} was deleted")
    assert not database.exists(), "nothing may make a new database behind the server"

    aside.rename(database)  # restored: the same file, every decision in it
    assert decide(api, client_id, "after").status_code == 201
    listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH).json()["decisions"]
    assert [d["comment"] for d in listed] == ["before", "after"]
    healthy(api)


def test_a_replaced_database_is_refused_until_a_restart(
    store: Path, serve: Callable[[Path], TestClient]
) -> None:
    api = serve(store)
    client_id = first_client(store)
    assert decide(api, client_id, "in the first file").status_code == 201
    database = store / DATABASE_FILE
    copy = store.parent / "copy.sqlite"
    shutil.copyfile(database, copy)
    os.replace(copy, database)  # another file at the path: the server still holds the old one
    refused(decide(api, client_id, "lost"), "store_unavailable", "was replaced", "restart")
    degraded(api, "was replaced")

    restarted = serve(store)
    assert decide(restarted, client_id, "in the new file").status_code == 201
    healthy(restarted)


def test_a_restarted_server_never_makes_an_empty_database(
    store: Path,
    serve: Callable[[Path], TestClient],
    trained_model: TrainingResult,
    small_data_dir: Path,
) -> None:
    client_id = first_client(store)
    database = store / DATABASE_FILE
    database.unlink()
    api = serve(store)  # the restart of the issue: it used to serve an empty store (404s)
    refused(api.get(f"/clients/{client_id}", headers=AUTH), "store_unavailable", "missing")
    refused(decide(api, client_id, "nowhere"), "store_unavailable", "missing")
    health = degraded(api, DATABASE_FILE, "missing", "creditscore publish")
    assert health["model_version"] is None
    assert not database.exists() and not list(store.glob(f"{DATABASE_FILE}-*"))

    # Only publish makes a store; the running server picks it up without a restart.
    assert main(publish_args(trained_model.version_dir, small_data_dir, store)) == 0
    assert api.get(f"/clients/{client_id}", headers=AUTH).status_code == 200
    healthy(api)


def test_publish_makes_no_database_beside_the_log_of_a_deleted_one(
    store: Path,
    trained_model: TrainingResult,
    small_data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = store / DATABASE_FILE
    wal = store / f"{DATABASE_FILE}{WAL_SUFFIXES[0]}"
    database.unlink()
    wal.write_bytes(b"the last frames of the deleted database")  # a server may still hold it
    code = main(publish_args(trained_model.version_dir, small_data_dir, store))
    err = capsys.readouterr().err
    assert code == EXIT_INVALID_INPUT, err
    assert "Traceback" not in err
    assert f"cannot write to the store at local:{store}" in err
    assert f"{DATABASE_FILE} is missing but {wal.name} is there" in err
    assert not database.exists()
    assert wal.read_bytes() == b"the last frames of the deleted database"


def test_drift_publishes_into_an_existing_store_only(
    tmp_path: Path,
    small_data_dir: Path,
    trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = tmp_path / "not-a-store"
    nowhere.mkdir()
    args = ["drift", "--data", str(small_data_dir), "--model", str(trained_model.version_dir)]
    code = main([*args, "--out", str(tmp_path / "drift"), "--publish", f"local:{nowhere}"])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID_INPUT, err
    assert "Traceback" not in err and f"cannot publish to local:{nowhere}" in err
    assert list(nowhere.iterdir()) == [], "drift must not make a store"


# --------------------------------------------------------------------------- 5. immutable files


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def running_server(
    root: Path, workdir: Path
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """A real `creditscore serve` on a free port of 127.0.0.1, stopped at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_ENV}
    env |= {"API_TOKEN": TOKEN, "MODEL_REFRESH_SECONDS": "0"}
    command = [sys.executable, "-m", "training.cli", "serve", "--store", f"local:{root}"]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(  # cwd: a folder without .env
        [*command, "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert process.poll() is None, (workdir / "server.log").read_text()
            try:
                client.get("/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield client, process
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def chattr(flag: str, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chattr", flag, *map(str, paths)], capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_immutable_store_files_are_503_and_the_server_stays_up(store: Path, tmp_path: Path) -> None:
    """Issue: the next decision killed the server with SIGBUS (exit 135), 3 times out of 3."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    client_id = first_client(store)
    with running_server(store, tmp_path) as (api, process):
        assert decide(api, client_id, "before").status_code == 201
        files = [p for p in store.glob(f"{DATABASE_FILE}*") if p.is_file()]
        assert {p.name for p in files} == {
            DATABASE_FILE,
            *(DATABASE_FILE + s for s in WAL_SUFFIXES),
        }
        try:
            done = chattr("+i", files)
            if done.returncode != 0:
                pytest.skip(f"chattr +i is refused here: {done.stderr.strip()}")
            for attempt in range(3):
                refused(
                    decide(api, client_id, f"attempt {attempt}"),
                    "store_unavailable",
                    "cannot be written",
                    "chattr -i",
                )
            # Reads too: SQLite writes the -shm index on reads.
            refused(api.get(f"/clients/{client_id}", headers=AUTH), "store_unavailable")
            degraded(api, "cannot be written")
            assert process.poll() is None, "the server died"
        finally:
            assert chattr("-i", files).returncode == 0
        assert decide(api, client_id, "after").status_code == 201
        listed = api.get(f"/clients/{client_id}/decisions", headers=AUTH).json()["decisions"]
        assert [d["comment"] for d in listed] == ["before", "after"]
        healthy(api)
        assert process.poll() is None


# --------------------------------------------------------------------------- 6. model files


def test_a_file_altered_in_the_active_version_is_refused_at_runtime(
    store: Path, serve: Callable[[Path], TestClient], trained_model: TrainingResult
) -> None:
    api = serve(store)
    version = trained_model.model_version
    assert api.post("/score", json={"application": MINIMAL}, headers=AUTH).status_code == 200
    onnx = store / MODELS_PREFIX / version / ONNX_FILE
    original = onnx.read_bytes()
    onnx.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit, same size
    messages = {
        refused(
            api.post("/score", json={"application": MINIMAL}, headers=AUTH),
            "model_unavailable",
            f"model {version}",
            ONNX_FILE,
        )
        for _ in range(5)
    }
    assert len(messages) == 1, "every request gets the same answer"
    health = degraded(api, f"model {version}", ONNX_FILE)
    assert health["model_version"] is None, "no version is served"

    onnx.write_bytes(original)
    assert api.post("/score", json={"application": MINIMAL}, headers=AUTH).status_code == 200
    assert healthy(api)["model_version"] == version


def test_a_corrupted_version_activated_while_serving_is_refused_not_served_around(
    store: Path,
    serve: Callable[[Path], TestClient],
    trained_model: TrainingResult,
    tmp_path: Path,
) -> None:
    """Issue: 5 of 179 requests got 503, the rest the old version, and /health said ok."""
    api = serve(store)
    old = trained_model.model_version
    assert healthy(api)["model_version"] == old
    folder, new = renamed_version(trained_model, tmp_path, "corrupted")
    local = LocalStore(store)
    try:
        local.put_model_version(folder)
        onnx = store / MODELS_PREFIX / new / ONNX_FILE
        onnx.write_bytes(onnx.read_bytes()[:-100])  # truncated
        local.activate(new)
        for _ in range(20):
            refused(
                api.post("/score", json={"application": MINIMAL}, headers=AUTH),
                "model_unavailable",
                f"model {new}",
                ONNX_FILE,
            )
        assert degraded(api, f"model {new}", ONNX_FILE)["model_version"] is None
        local.activate(old)  # the rollback
    finally:
        local.close()
    answer = api.post("/score", json={"application": MINIMAL}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["model_version"] == old
    healthy(api)


def test_a_booster_altered_at_runtime_is_reported_and_scoring_goes_on(
    store: Path, serve: Callable[[Path], TestClient], trained_model: TrainingResult
) -> None:
    """Only the routes that read a file are refused for it (the booster: explanations)."""
    api = serve(store)
    version = trained_model.model_version
    healthy(api)
    explain = {"application": MINIMAL}
    assert api.post("/explain", json=explain, headers=AUTH).status_code == 200  # booster cached
    booster = store / MODELS_PREFIX / version / MODEL_FILE
    original = booster.read_bytes()
    booster.write_bytes(original + b"\n")
    answer = api.post("/score", json={"application": MINIMAL}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["model_version"] == version
    health = degraded(api, f"model {version}: {MODEL_FILE} failed its integrity check")
    assert health["model_version"] == version, "the version still scores"
    # The booster already in memory is not used once its file is found altered.
    refused = api.post("/explain", json=explain, headers=AUTH)
    assert refused.status_code == 503 and MODEL_FILE in refused.text
    booster.write_bytes(original)
    assert healthy(api)["model_version"] == version
    assert api.post("/explain", json=explain, headers=AUTH).status_code == 200


def test_between_two_looks_every_request_gets_the_answer_of_the_last_look(store: Path) -> None:
    """With a refresh period, a refused version is not served between two looks either."""
    clock = [1000.0]
    local = LocalStore(store)
    try:
        models = ModelProvider(local, 60, clock=lambda: clock[0])
        model = models.current()
        onnx = model.folder / ONNX_FILE
        original = onnx.read_bytes()
        onnx.write_bytes(original + b"\0")
        assert models.current() is model, "not looked at before the period ends"
        clock[0] += 61
        with pytest.raises(ModelUnavailableError, match=ONNX_FILE):
            models.current()
        for _ in range(5):  # the same answer until the next look, not the old model
            clock[0] += 1
            with pytest.raises(ModelUnavailableError, match=ONNX_FILE):
                models.current()
        assert models.loaded_version() is None
        onnx.write_bytes(original)
        clock[0] += 61
        assert models.current() is model
    finally:
        local.close()


def test_a_reader_that_finds_a_file_altered_refuses_it_at_once(store: Path) -> None:
    clock = [1000.0]
    local = LocalStore(store)
    try:
        models = ModelProvider(local, 3600, files=[MODEL_FILE], clock=lambda: clock[0])
        model = models.current()
        for name in (MODEL_FILE, ONNX_FILE):
            path = model.folder / name
            original = path.read_bytes()
            path.write_bytes(b"x" + original[1:])
            with pytest.raises(ModelUnavailableError, match=f"{name} failed"):
                served_file(model, name)
            with pytest.raises(ModelUnavailableError, match=f"{name} failed"):
                check_served_file(model, name)  # what a reader with a cache asks
            if name == ONNX_FILE:  # within the refresh period, yet the version is refused
                with pytest.raises(ModelUnavailableError, match=ONNX_FILE):
                    models.current()
            else:  # scoring goes on; the refusal is reported
                assert models.current() is model
                assert [f"{name} failed" in p for p in models.problems()] == [True]
            path.write_bytes(original)
            assert served_file(model, name) == original
            check_served_file(model, name)
        clock[0] += 3601
        assert models.current() is model and models.problems() == []
    finally:
        local.close()


# --------------------------------------------------------------------------- 7. killed publish

#: Run in a child process: start publishing ``version`` as publish does, leave a staging
#: folder with a truncated model.txt, as a copy cut short does, and die by SIGKILL.
KILLED_PUBLISH = textwrap.dedent(
    """
    import os, signal, sys, tempfile
    from pathlib import Path
    from creditscore_common.store.local import LocalStore

    root, version, source = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    store = LocalStore(root, create=True)
    with store.publishing(version):
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=store.models_dir))
        text = (source / "model.txt").read_bytes()
        (staging / "model.txt").write_bytes(text[: len(text) // 3])
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_publish_shows_in_health_and_a_rerun_completes_it(
    store: Path,
    serve: Callable[[Path], TestClient],
    trained_model: TrainingResult,
    small_data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, new = renamed_version(trained_model, tmp_path, "killed")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_PUBLISH, str(store), new, str(folder)], check=False
    )
    assert child.returncode == -signal.SIGKILL
    models = store / MODELS_PREFIX
    (staging,) = [p for p in models.iterdir() if p.name.startswith(f".{new}-")]
    assert (models / PUBLISH_MARKER).read_text() == f"{new}\n"

    api = serve(store)
    health = degraded(api, f"a publish of version {new} did not finish", "creditscore publish")
    assert health["model_version"] == trained_model.model_version, "the old version still serves"

    caplog.set_level("WARNING")
    assert main(publish_args(folder, small_data_dir, store)) == 0
    assert f"removed {staging.name}" in caplog.text
    assert f"a publish of version {new} did not finish" in caplog.text
    assert not staging.exists() and not (models / PUBLISH_MARKER).exists()
    assert (models / ACTIVE_POINTER).read_text() == f"{new}\n"
    assert healthy(api)["model_version"] == new


def test_a_staging_folder_without_a_marker_is_reported_and_removed(
    store: Path,
    serve: Callable[[Path], TestClient],
    trained_model: TrainingResult,
    small_data_dir: Path,
) -> None:
    """What a publish killed before the marker existed left behind."""
    staging = store / MODELS_PREFIX / f".{trained_model.model_version}-k1ll3d_x"
    staging.mkdir()
    (staging / MODEL_FILE).write_text("tree\n")
    api = serve(store)
    degraded(api, staging.name, "rerun `creditscore publish`")
    assert main(publish_args(trained_model.version_dir, small_data_dir, store)) == 0
    assert not staging.exists()
    healthy(api)


def test_a_running_publish_is_not_degraded_and_keeps_a_second_one_out(
    store: Path,
    serve: Callable[[Path], TestClient],
    trained_model: TrainingResult,
    small_data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = serve(store)
    local = LocalStore(store)
    try:
        with local.publishing("20990101-000000-running"):
            healthy(api)  # half-done is expected while the publish runs
            code = main(publish_args(trained_model.version_dir, small_data_dir, store))
            err = capsys.readouterr().err
            assert code == EXIT_INVALID_INPUT and "Traceback" not in err
            assert "another publish (version 20990101-000000-running) is running" in err
    finally:
        local.close()
    healthy(api)
