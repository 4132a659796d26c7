"""Helpers of the end-to-end browser tests: servers as subprocesses, HTTP, artifacts."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DASHBOARD_APP = REPO / "frontend" / "app.py"
ARTIFACTS = REPO / "build" / "test-artifacts"
#: Debian's chromium and chromium-driver (`make browser`); CHROMIUM and CHROMEDRIVER override them.
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver")
HOST = "127.0.0.1"
#: Seconds for the API, the dashboard and the page to be ready.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PAGE_LOAD_TIMEOUT = 30.0

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_get(url: str, token: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET (any HTTP status; connection errors raise OSError)."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def save_artifact(name: str, data: bytes | str) -> Path:
    """Write ``build/test-artifacts/<name>`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


@dataclass
class Server:
    """A server started as a subprocess in its own process group, its output in a file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self, tail: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] or "(no output)"

    def wait_ready(self, check: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        """Poll ``check`` until it is true; fail with the server's output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the {self.name} exited with code {self.process.returncode} before it was "
                    f"ready; its output:\n{self.output()}"
                )
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.25)
        pytest.fail(
            f"the {self.name} was not ready at {self.url} after {timeout:.0f} s; "
            f"its output:\n{self.output()}"
        )

    def stop(self) -> None:
        """Terminate the process group (the server and any child), then kill what is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
        # Children that outlived their parent, or a parent deaf to SIGTERM.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("the %s (pid %d) did not stop", self.name, self.process.pid)


def start_server(
    name: str, url: str, command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> Server:
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, url, process, log_path)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the API's settings variables, plus ``extra``."""
    from creditscore_common.settings import Settings

    settings_names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings_names}
    env.pop("API_URL", None)
    env.update(OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass(frozen=True)
class Api:
    url: str
    token: str
    server: Server


#: axe-core, the accessibility engine the browser tests run on every page: a pinned release
#: from the npm registry, checked against the registry's own sha512 integrity for it
#: (`npm view axe-core@4.10.3 dist.integrity`), cached under build/ (no Node needed).
AXE_VERSION = "4.10.3"
AXE_TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_INTEGRITY = (
    "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/"
    "PbZhideTcEg=="
)
AXE_CACHE = REPO / "build" / "axe-core"


def _integrity(data: bytes) -> str:
    import base64
    import hashlib

    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def axe_source(timeout: float = 60.0) -> str:
    """axe.min.js of :data:`AXE_VERSION`: downloaded once, verified every time, then cached."""
    import io
    import tarfile

    tarball = AXE_CACHE / f"axe-core-{AXE_VERSION}.tgz"
    if not tarball.is_file():
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(AXE_TARBALL, timeout=timeout) as answer:
            data = bytes(answer.read())
        if _integrity(data) != AXE_INTEGRITY:
            pytest.fail(f"{AXE_TARBALL} does not match its pinned sha512 integrity")
        partial = tarball.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(tarball)
    data = tarball.read_bytes()
    if _integrity(data) != AXE_INTEGRITY:
        pytest.fail(f"{tarball} does not match the pinned sha512 integrity: delete it")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        if member is None:
            pytest.fail(f"{AXE_TARBALL} holds no package/axe.min.js")
        return member.read().decode("utf-8")
