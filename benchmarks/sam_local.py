"""Latency of the built functions under SAM's Lambda runtime emulator (`sam local start-api`).

Needs the Docker engine and the python3.12 Lambda image (``make local-image``), a SAM build
and a published local store. For each function, through the local HTTP API:

- cold: the first request after the function's container starts (SAM starts it on demand:
  container start, runtime start, imports, model load, answer), measured ``--cold`` times,
  restarting `sam local start-api` between rounds;
- warm: the p50 and p99 of ``--requests`` requests to the same, already started container.

The figures include SAM's local API (Flask) and the emulator's own overhead, on top of what
``benchmarks.lambda_functions`` measures in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "local-image" / "sam-local.sh"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
#: Function -> the request its figures are measured on (path relative to a client).
FUNCTION_REQUESTS: dict[str, str] = {
    "ScoreFunction": "/clients/{client_id}/score",
    "ExplainFunction": "/clients/{client_id}/explanation",
    "ClientFunction": "/clients/{client_id}/comparison",
}
START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 120.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_get(url: str, token: str) -> tuple[int, float]:
    """Status and seconds of one GET with the bearer token."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:
            answer.read()
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
    return status, time.perf_counter() - started


@contextlib.contextmanager
def local_api(app: Path, store: Path, token: str, log: Path) -> Iterator[str]:
    """`sam local start-api` (local-image/sam-local.sh) running; yields its base URL."""
    port = free_port()
    env = {**os.environ, "API_TOKEN": token, "SAM": str(SAM), "SAM_CLI_TELEMETRY": "0"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["bash", str(SCRIPT), str(app), str(store), "start-api", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"sam local start-api exited ({process.returncode}): see {log}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"sam local start-api did not listen within {START_TIMEOUT_S} s")
            time.sleep(0.25)
        yield url
    finally:
        # The script alone: it stops SAM (and its containers), then removes the mounts.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def some_client(store: Path) -> int:
    """The smallest client id of the store."""
    import sqlite3

    with sqlite3.connect(f"file:{store / 'store.sqlite'}?mode=ro", uri=True) as database:
        return int(database.execute("SELECT MIN(client_id) FROM clients").fetchone()[0])


def run(
    source_app: Path, store: Path, out: Path, cold_rounds: int, requests: int
) -> dict[str, Any]:
    """Cold and warm figures of every function, on copies of the build and of the store.

    Copies: the store is mounted into the function folders for the run and gets decisions;
    neither the build nor the store given is touched.
    """
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sam-local-bench-", dir=out))
    copy = work / "store"
    shutil.copytree(store, copy)
    app = work / "app"
    shutil.copytree(source_app, app, symlinks=True)
    client_id = some_client(copy)
    token = secrets.token_urlsafe(24)
    log = out / "sam_local.log"
    cold: dict[str, list[float]] = {name: [] for name in FUNCTION_REQUESTS}
    warm: dict[str, list[float]] = {name: [] for name in FUNCTION_REQUESTS}
    try:
        for round_index in range(cold_rounds):
            with local_api(app, copy, token, log) as url:
                for function, path in FUNCTION_REQUESTS.items():
                    target = url + path.format(client_id=client_id)
                    status, seconds = timed_get(target, token)
                    if status != 200:
                        raise SystemExit(f"{function}: HTTP {status} on {target} (see {log})")
                    cold[function].append(seconds)
                    if round_index == 0:
                        for _ in range(requests):
                            warm[function].append(timed_get(target, token)[1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results: dict[str, Any] = {"client_id": client_id, "cold_rounds": cold_rounds}
    for function in FUNCTION_REQUESTS:
        timings = sorted(warm[function])
        p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
        results[function] = {
            "request": FUNCTION_REQUESTS[function],
            "cold_median_s": round(statistics.median(cold[function]), 2),
            "cold_max_s": round(max(cold[function]), 2),
            "warm_p50_ms": round(statistics.median(timings) * 1000, 1),
            "warm_p99_ms": round(p99 * 1000, 1),
            "warm_requests": len(timings),
        }
    return results


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (the README's)."""
    lines = [
        "| function | request | cold (median) | warm p50 | warm p99 |",
        "|---|---|---:|---:|---:|",
    ]
    for function in FUNCTION_REQUESTS:
        row = results[function]
        lines.append(
            f"| {function} | GET {row['request']} | {row['cold_median_s']:.2f} s "
            f"| {row['warm_p50_ms']:.1f} ms | {row['warm_p99_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry of the `sam local` benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sam_local")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument(
        "--app", type=Path, default=Path(".aws-sam/build"), help="a `sam build` folder"
    )
    parser.add_argument("--store", type=Path, default=Path("build/store"), help="a local store")
    parser.add_argument("--cold", type=int, default=3, help="cold starts a function")
    parser.add_argument("--requests", type=int, default=200, help="warm requests a function")
    args = parser.parse_args(argv)
    if not (args.app / "template.yaml").is_file():
        raise SystemExit(f"no SAM build in {args.app}: run `make build` (or give --app)")
    if not (args.store / "models" / "active").is_file():
        raise SystemExit(f"{args.store} is not a published local store (make demo)")
    results = run(args.app.resolve(), args.store.resolve(), args.out, args.cold, args.requests)
    (args.out / "sam_local_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))  # noqa: T201 - the benchmark's report
    return 0


if __name__ == "__main__":
    sys.exit(main())
