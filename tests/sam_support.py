"""The SAM CLI for tests: finding it and python3.12, and one `sam build` shared by a test run.

The SAM CLI must be present (CI really runs it): `<repo>/.venv-sam/bin/sam` (made by
`make install`), else `sam` on PATH, else /tmp/samvenv/bin/sam. Test modules take the
``sam_build`` and ``built`` fixtures by importing them from here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west-3"


def find_sam() -> str:
    """The SAM CLI's executable (fails the test if there is none)."""
    candidates = [
        REPO / ".venv-sam" / "bin" / "sam",
        shutil.which("sam"),
        Path("/tmp/samvenv/bin/sam"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return str(candidate)
    pytest.fail(
        "the SAM CLI was not found (.venv-sam/bin/sam, `sam` on PATH, /tmp/samvenv/bin/sam): "
        "run `make install`, which creates .venv-sam from requirements-sam.txt"
    )


def find_python312() -> str:
    """A working python3.12 (a pyenv shim may exist and still fail), as functions/Makefile."""
    candidates = [shutil.which("python3.12")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        if not candidate:
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
            capture_output=True,
            check=False,
        )
        if check.returncode == 0:
            return candidate
    pytest.fail("no working python3.12 (PATH or ~/.pyenv/versions/3.12*): the Lambda runtime")


def sam_env() -> dict[str, str]:
    """This environment with the SAM CLI's telemetry off."""
    return {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def run_sam(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``sam ARGS`` in the repository, its output captured (never raises on failure)."""
    return subprocess.run(
        [find_sam(), *args],
        cwd=REPO,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run shares (the parent of the workers' temps)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`sam build` into a temporary folder, once per test run (workers wait on a lock).

    Returns the build folder, the exit code and the output, for the tests to judge.
    Treat the folder as read-only: a test that must change it works on a copy.
    """
    shared = shared_dir(tmp_path_factory)
    build_dir, result_file = shared / "sam-build", shared / "sam-build.json"
    with (shared / "sam-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result_file.is_file():
            process = run_sam(
                "build",
                "--build-dir",
                str(build_dir),
                "--cache-dir",
                str(shared / "sam-cache"),
                "--region",
                REGION,
            )
            result_file.write_text(
                json.dumps(
                    {"returncode": process.returncode, "output": process.stdout + process.stderr}
                )
            )
    result: dict[str, Any] = json.loads(result_file.read_text())
    result["build_dir"] = build_dir
    return result


@pytest.fixture(scope="session")
def built(sam_build: dict[str, Any]) -> Path:
    """The build folder of a successful build (the build's own test reports a failure)."""
    if sam_build["returncode"] != 0:
        pytest.fail(f"sam build failed:\n{sam_build['output'][-4000:]}")
    build_dir: Path = sam_build["build_dir"]
    return build_dir
