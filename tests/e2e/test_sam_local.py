"""`sam local start-api`: every route of template.yaml through the Lambda runtime emulator.

The built functions run in containers of the python3.12 Lambda image (the stand-in that
`make local-image` builds offline, or AWS's own image when present) behind SAM's local HTTP
API, on ONE local store mounted into the three of them (local-image/sam-local.sh), with a
bearer token (start-api skips the JWT authorizer). Each route's sample event (events/) is
sent as an HTTP request; the answer must be the in-process Mangum handler's answer to the
same request on a copy of the same store, in the same settings: same status, same JSON.

Compared exactly, except ``decided_at`` (in the decision recorded, then in the decisions
listed): it is the time of the write plus a random suffix, so the two stores differ there by
construction; the rest of the decision is compared. The decision recorded through the
emulator must then be in the store on the host (nothing lost on the way).

The test skips only where the Docker engine cannot run at all (`make local-image` exits 3:
no root nor sudo to install or start it, or dockerd does not start); any other failure fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from cloudformation import load_template
from e2e_support import HOST, Api, Server, clean_env, free_port, http_get, start_server
from sam_support import built, find_sam, sam_build
from settings_env import clear_settings_env

from creditscore_common.api import reset_caches
from creditscore_common.store.local import DATABASE_FILE, LocalStore
from serving.local_server import load_function
from training.data import NEW_CLIENTS_FILE, load_applications

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sam")]

#: Fixtures of tests/sam_support.py (imported: pytest finds them here).
__all__ = ["built", "sam_build"]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "local-image" / "sam-local.sh"
EVENTS = REPO / "events"
#: Headers of a sample event the HTTP client sets itself (or the local token replaces).
SKIPPED_HEADERS = {"host", "content-length", "authorization", "content-type", "connection"}
#: make local-image's exit code when the Docker engine cannot run on this machine.
ENGINE_CANNOT_RUN = 3
#: The first answer waits for SAM to add the layer to the image and start a container.
START_TIMEOUT = 300.0
#: A cold start in a container (ONNX Runtime, the model) on two busy cores.
REQUEST_TIMEOUT = 120.0
#: SAM removes its containers when it stops; the mounts go after it.
STOP_TIMEOUT = 90.0
VOLATILE_FIELDS = frozenset({"decided_at"})


def template_routes() -> dict[str, str]:
    """'METHOD /path' -> function folder name (score, explain, client), from template.yaml."""
    routes: dict[str, str] = {}
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                properties = event["Properties"]
                route = f"{properties['Method'].upper()} {properties['Path']}"
                routes[route] = name.removesuffix("Function").lower()
    return routes


def route_events() -> list[Path]:
    """One sample event a route; the decision is recorded before the decisions are listed."""
    events = [path for path in sorted(EVENTS.glob("*.json")) if "routeKey" in path.read_text()]
    return sorted(events, key=lambda path: path.stem != "decisions_record")


def request_event(path: Path, client_id: int, token: str) -> dict[str, Any]:
    """The sample event for ``client_id``, as start-api forwards it: bearer token, no claims."""
    event: dict[str, Any] = json.loads(path.read_text())
    parameters = event.get("pathParameters") or {}
    if "client_id" in parameters:
        old = parameters["client_id"]
        parameters["client_id"] = str(client_id)
        event["rawPath"] = event["rawPath"].replace(f"/{old}", f"/{client_id}")
        event["requestContext"]["http"]["path"] = event["rawPath"]
    event["headers"]["authorization"] = f"Bearer {token}"
    event["requestContext"].pop("authorizer", None)
    return event


def lambda_context(function: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=f"creditscore-{function}",
        function_version="$LATEST",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        memory_limit_in_mb=1024,
        get_remaining_time_in_millis=lambda: 10_000,
    )


def over_http(api: Api, event: dict[str, Any]) -> tuple[int, str, bytes]:
    """Status, content type and body of the event's request sent to the local API."""
    url = api.url + event["rawPath"]
    if event.get("rawQueryString"):
        url += "?" + event["rawQueryString"]
    body = event.get("body")
    request = urllib.request.Request(
        url,
        method=event["requestContext"]["http"]["method"],
        data=body.encode() if body else None,
        headers={
            # The event's own headers (an Idempotency-Key...), then the local token.
            **{k: v for k, v in event["headers"].items() if k.lower() not in SKIPPED_HEADERS},
            "Authorization": f"Bearer {api.token}",
            "Content-Type": event["headers"].get("content-type", "application/json"),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:
            return int(answer.status), answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.headers.get("content-type", ""), error.read()


def without_volatile(value: Any) -> Any:
    """``value`` with the fields in VOLATILE_FIELDS removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE_FIELDS}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def stop_and_unmount(server: Server, app: Path) -> None:
    """Stop the script, which stops SAM (its containers) and removes the mounts; then check.

    SIGTERM goes to the script alone: it passes one to SAM, which runs in a session of its own.
    """
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=STOP_TIMEOUT)
    server.stop()
    for point in app.glob("*/.local-store"):
        if os.path.ismount(point):
            subprocess.run(["umount", "-l", str(point)], check=False)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lambda_image() -> None:
    """`make local-image`: the engine running and the python3.12 image present."""
    process = subprocess.run(
        ["make", "--no-print-directory", "local-image"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = process.stdout + process.stderr
    if process.returncode != 0 and re.search(rf"local-image\] Error {ENGINE_CANNOT_RUN}\b", output):
        pytest.skip(f"the Docker engine cannot run here: {output.strip()[-600:]}")
    assert process.returncode == 0, f"make local-image failed:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def known_client(small_data_dir: Path) -> int:
    return int(load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).ids[1])


@pytest.fixture(scope="module")
def stores(
    publish_local: Callable[[Path], Path], drift_run: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(the store served through SAM, an identical copy for the in-process handlers)."""
    root = tmp_path_factory.mktemp("sam_local_stores")
    served = publish_local(root / "served")
    store = LocalStore(served)
    store.put_drift_summary(drift_run.summary)
    store.close()
    in_process = root / "in-process"
    shutil.copytree(served, in_process)
    return served, in_process


@pytest.fixture(scope="module")
def sam_api(
    lambda_image: None,
    built: Path,
    stores: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    """`sam local start-api` on a copy of the shared build (the store is mounted into it)."""
    root = tmp_path_factory.mktemp("sam_local_app")
    app = root / "app"
    shutil.copytree(built, app, symlinks=True)
    token, port = secrets.token_urlsafe(24), free_port()
    command = ["bash", str(SCRIPT), str(app), str(stores[0]), "start-api", "--port", str(port)]
    env = clean_env(API_TOKEN=token, SAM=find_sam(), SAM_CLI_TELEMETRY="0")
    url = f"http://{HOST}:{port}"
    server = start_server("sam local start-api", url, command, env, REPO, root / "sam.log")
    try:
        server.wait_ready(
            lambda: http_get(f"{url}/health", timeout=REQUEST_TIMEOUT)[0] == 200,
            timeout=START_TIMEOUT,
        )
        yield Api(url, token, server)
    finally:
        stop_and_unmount(server, app)


@pytest.fixture
def in_process(
    stores: tuple[Path, Path], sam_api: Api, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, ModuleType]]:
    """The three function modules, in this process, on the copy, with the same settings."""
    clear_settings_env(monkeypatch)
    monkeypatch.setenv("STORE_BACKEND", "local")
    monkeypatch.setenv("LOCAL_STORE_PATH", str(stores[1]))
    monkeypatch.setenv("AUTH_MODE", "token")
    monkeypatch.setenv("API_TOKEN", sam_api.token)
    reset_caches()
    modules: dict[str, ModuleType] = {}
    for function in sorted(set(template_routes().values())):
        module = load_function(function)
        assert module is not None, f"functions/{function}/app.py does not exist"
        modules[function] = module
    yield modules
    reset_caches()


# ---------------------------------------------------------------------------- the test


def test_every_route_answers_through_sam_as_in_process(
    sam_api: Api,
    in_process: dict[str, ModuleType],
    stores: tuple[Path, Path],
    known_client: int,
) -> None:
    routes = template_routes()
    events = route_events()
    assert {json.loads(p.read_text())["routeKey"] for p in events} == set(routes), (
        "events/ must hold one sample event for every route of template.yaml"
    )
    differences = []
    for path in events:
        event = request_event(path, known_client, sam_api.token)
        function = routes[event["routeKey"]]
        expected = in_process[function].handler(event, lambda_context(function))
        status, content_type, body = over_http(sam_api, event)
        assert status < 500, f"{path.stem}: {status} {body[:500]!r}\n{sam_api.server.output()}"
        expected_body = json.loads(expected["body"])
        answer = (status, content_type, without_volatile(json.loads(body)))
        wanted = (
            expected["statusCode"],
            expected["headers"]["content-type"],
            without_volatile(expected_body),
        )
        if answer != wanted:
            differences.append(f"{path.stem}:\n  sam local: {answer}\n  in-process: {wanted}")
        if path.stem == "decisions_record":
            assert status in (200, 201), body
    assert not differences, "\n".join(differences)

    with sqlite3.connect(stores[0] / DATABASE_FILE) as database:
        recorded = database.execute("SELECT client_id, decision FROM decisions").fetchall()
    assert recorded == [(known_client, "refuse")], "the decision must reach the host's store"
