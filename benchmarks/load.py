"""Load test of the local server: concurrent clients against the score, explain and client routes.

``python -m benchmarks.load --out DIR [--store PATH] [--duration 20] [--clients 32]``

Starts a real ``creditscore serve`` on 127.0.0.1 (a free port) on a published local store
(built here from small generated data if ``--store`` is not given), then, for each route in
turn, keeps ``--clients`` HTTP/1.1 keep-alive connections busy for ``--duration`` seconds,
each client asking for the next of the store's clients in a loop. Reported per route:
throughput (answers a second), p50 and p99 latency, and errors (any answer but a 200, or a
failed connection). The figures go to ``DIR/load.json`` and a table is printed.

Honest measure: the load generator runs on the same machine as the server and takes its
share of the cores. It is one asyncio process speaking plain HTTP/1.1 over keep-alive
connections (a request written, its status line, headers and Content-Length body read), so
that it costs a fraction of what a full client library would and most of the cores go to the
server (``creditscore serve --workers N``, ``--workers``, 1 by default). The machine's load
average before and after is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

#: The routes loaded, one after the other: name -> path (``{id}`` is a client of the store).
ROUTES: dict[str, str] = {
    "GET score": "/clients/{id}/score",
    "GET explanation": "/clients/{id}/explanation",
    "GET client": "/clients/{id}",
    "GET clients (page)": "/clients?limit=20",
}
#: The target of issue 13: GET score on 2 cores, with no error.
TARGET_SCORE_RPS = 500.0
#: Size of the data built when no store is given (the test suite's small set).
N_TRAIN, N_NEW, SEED = 6000, 1500, 7
WARM_UP_SECONDS = 2.0


@dataclass
class RouteResult:
    """What one route answered under load."""

    route: str
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _creditscore(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "training.cli", *args]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def build_store(work: Path) -> Path:
    """Generate small data, train quickly and publish into ``work/store`` (a few minutes)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    data, artifacts, store = work / "data", work / "artifacts", work / "store"
    _creditscore("generate", "--out", str(data), "--n-train", str(N_TRAIN),
                 "--n-new", str(N_NEW), "--seed", str(SEED), env=env)  # fmt: skip
    _creditscore("train", "--data", str(data), "--out", str(artifacts), "--quick",
                 "--no-progress", env=env)  # fmt: skip
    _creditscore("publish", "--model", str(artifacts / "latest"), "--data", str(data),
                 "--store", f"local:{store}", env=env)  # fmt: skip
    return store


def client_ids(store: Path, n: int = 500) -> list[int]:
    """Up to ``n`` ids of the store's new clients."""
    from creditscore_common.store.local import LocalStore

    local = LocalStore(store)
    try:
        ids: list[int] = []
        cursor: int | None = None
        while len(ids) < n:
            page, cursor = local.list_clients(limit=min(200, n - len(ids)), cursor=cursor)
            ids.extend(client_id for client_id, _ in page)
            if cursor is None:
                break
        return ids
    finally:
        local.close()


class Server:
    """``creditscore serve`` on 127.0.0.1, in a child process, stopped on exit."""

    def __init__(self, store: Path, token: str, log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "API_TOKEN": token}
        env.pop("TRAFFIC_LOG", None)
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "training.cli",
                "serve",
                "--store",
                f"local:{store}",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until /health answers ok (RuntimeError if the server died or never did)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited with {self._process.returncode}")
            try:
                answer = httpx.get(f"{self.url}/health", timeout=2.0)
                if answer.status_code == 200 and answer.json().get("status") == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("the server did not become healthy in time")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


class _Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, read the whole answer."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self._headers = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        """The status of ``GET path`` (its body read and dropped); reconnects if needed."""
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._headers)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await self._reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        """Close the connection (a new one is opened at the next request)."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def _one_client(
    connection: _Connection, path: str, ids: list[int], start: int, stop_at: float,
    latencies: list[float], errors: list[str],
) -> None:  # fmt: skip
    position = start
    while time.perf_counter() < stop_at:
        url = path.replace("{id}", str(ids[position % len(ids)]))
        position += 1
        sent = time.perf_counter()
        try:
            status = await connection.get(url)
        except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError) as error:
            errors.append(type(error).__name__)
            await connection.close()
            continue
        latencies.append(time.perf_counter() - sent)
        if status != 200:
            errors.append(str(status))


async def load_route(
    base_url: str, token: str, name: str, path: str, ids: list[int], clients: int,
    duration: float,
) -> RouteResult:  # fmt: skip
    """``clients`` keep-alive connections asking ``path`` for ``duration`` seconds."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    connections = [_Connection(host, int(port), token) for _ in range(clients)]
    try:
        # Warm up: connections opened, caches filled; not counted.
        warm_stop = time.perf_counter() + WARM_UP_SECONDS
        await asyncio.gather(
            *(_one_client(c, path, ids, i, warm_stop, [], []) for i, c in enumerate(connections))
        )
        latencies: list[float] = []
        errors: list[str] = []
        started = time.perf_counter()
        stop_at = started + duration
        await asyncio.gather(
            *(
                _one_client(c, path, ids, i * 7, stop_at, latencies, errors)
                for i, c in enumerate(connections)
            )
        )
        seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    ms = np.asarray(latencies) * 1000.0 if latencies else np.asarray([float("nan")])
    return RouteResult(
        route=name,
        requests=len(latencies) + sum(1 for e in errors if not e.isdigit()),
        errors=len(errors),
        seconds=round(seconds, 2),
        throughput_rps=round((len(latencies) - sum(1 for e in errors if e.isdigit())) / seconds, 1),
        p50_ms=round(float(np.percentile(ms, 50)), 2),
        p99_ms=round(float(np.percentile(ms, 99)), 2),
    )


def table(results: list[RouteResult], clients: int, duration: float) -> str:
    """The results as a Markdown table (the README's)."""
    head = f"| Route ({clients} clients, {duration:g} s) "
    lines = [
        head + "| Requests/s | p50 (ms) | p99 (ms) | Errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        figures = f"{r.throughput_rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors}"
        lines.append(f"| {r.route} | {figures} |")
    return "\n".join(lines)


def run(
    out: Path, store: Path | None, duration: float, clients: int, workers: int = 1
) -> dict[str, Any]:
    """Build or reuse the store, start the server, load each route; the figures."""
    out.mkdir(parents=True, exist_ok=True)
    if store is None:
        store = build_store(Path(tempfile.mkdtemp(prefix="load-", dir=out)))
    ids = client_ids(store)
    if not ids:
        raise SystemExit(f"no client in the store {store}")
    token = secrets.token_urlsafe(24)
    server = Server(store, token, out / "load-server.log", workers)
    load_before = os.getloadavg()
    try:
        server.wait_ready()
        results = [
            asyncio.run(load_route(server.url, token, name, path, ids, clients, duration))
            for name, path in ROUTES.items()
        ]
    finally:
        server.stop()
    figures: dict[str, Any] = {
        "clients": clients,
        "duration_seconds": duration,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "workers": workers,
        "note": f"load generator (1 asyncio process, plain HTTP/1.1) and server ({workers} uvicorn "
        "process(es)) share the machine",
        "target_score_rps": TARGET_SCORE_RPS,
        "routes": [asdict(r) for r in results],
        "table": table(results, clients, duration),
    }
    (out / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the load test, print the table; 1 if GET score misses its target."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--store", type=Path, default=None, help="a published local store")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per route")
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.clients <= 0 or args.workers <= 0:
        parser.error("--duration, --clients and --workers must be positive")
    figures = run(args.out, args.store, args.duration, args.clients, args.workers)
    print(figures["table"])  # noqa: T201 (the benchmark's table)
    print(  # noqa: T201
        f"load average before {figures['load_average_before']}, "
        f"after {figures['load_average_after']} ({figures['cpus']} CPUs); "
        f"figures in {args.out / 'load.json'}"
    )
    score = next(r for r in figures["routes"] if r["route"] == "GET score")
    missed = score["throughput_rps"] < TARGET_SCORE_RPS or score["errors"] > 0
    if missed:
        print(f"GET score below its target ({TARGET_SCORE_RPS:g} requests/s, 0 errors)")  # noqa: T201
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
