"""Benchmarks of what is deployed: artifact sizes, cold start and warm handler latency.

Run after ``sam build`` (``make bench`` does both). Every figure is measured on the built
artifacts in ``.aws-sam/build``:

- size of each function with the layer, unzipped (Lambda's limit is 250 MB);
- cold start: a fresh ``python3.12 -I`` whose path holds only the function and the layer
  imports the handler, loads the model and answers the function's first sample event;
- warm latency: the Mangum handler of each function answering its events repeatedly
  (local store), p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common.store.local import LocalStore

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".aws-sam" / "build"
EVENTS_DIR = ROOT / "events"
LAYER = "CommonLayer"
#: Function -> the events its benchmarks replay (the first one is the cold-start event).
FUNCTION_EVENTS: dict[str, tuple[str, ...]] = {
    "ScoreFunction": ("score_client.json", "score_application.json"),
    "ExplainFunction": (
        "explain_client.json",
        "explain_application.json",
        "counterfactual_client.json",
    ),
    "ClientFunction": ("client_comparison.json", "client_list.json", "client_similar.json"),
}

_COLD_START = r"""
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
event = json.loads(open(sys.argv[3]).read())
answer = app.handler(event, None)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "status": answer["statusCode"], "body": answer["body"][:300],
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                                    ("pandas", "sklearn", "lightgbm", "scipy"))}))
"""


def directory_mb(path: Path) -> float:
    """Size of every file under ``path`` in MB (unzipped, as Lambda counts it)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def lambda_python() -> str:
    """A python3.12 executable (the Lambda runtime's version)."""
    candidates = [
        "python3.12",
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")),
    ]
    for candidate in candidates:
        try:
            subprocess.run([candidate, "-c", ""], check=True, capture_output=True)
            return candidate
        except (OSError, subprocess.CalledProcessError):
            continue
    raise SystemExit("python3.12 is needed to measure cold starts")


def event_for(name: str, client_id: int) -> dict[str, Any]:
    """A sample event with its client id replaced by one that exists in the store."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    if "pathParameters" in event and "client_id" in event["pathParameters"]:
        old = event["pathParameters"]["client_id"]
        event["pathParameters"]["client_id"] = str(client_id)
        for key in ("rawPath",):
            event[key] = event[key].replace(f"/{old}/", f"/{client_id}/")
        event["requestContext"]["http"]["path"] = event["rawPath"]
    return event


def local_environment(store: Path) -> dict[str, str]:
    """Environment of a function pointed at a local store, with the JWT claims of events.

    Served scores are logged as on Lambda (template.yaml's TRAFFIC_LOG), to a file beside the
    store rather than stdout, so that the benchmark pays for every traffic line.
    """
    return {
        "STORE_BACKEND": "local",
        "LOCAL_STORE_PATH": str(store),
        "AUTH_MODE": "jwt",
        "LOG_LEVEL": "WARNING",
        "AWS_LAMBDA_FUNCTION_NAME": "benchmark",
        "TRAFFIC_LOG": str(store.parent / "bench-traffic.jsonl"),
    }


def cold_starts(
    function: str, store: Path, client_id: int, repeats: int, python: str
) -> dict[str, Any]:
    """Fresh-interpreter cold starts of a built function on its first event."""
    event = event_for(FUNCTION_EVENTS[function][0], client_id)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(event, handle)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(local_environment(store))
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [python, "-I", "-c", _COLD_START, str(BUILD_DIR / function),
             str(BUILD_DIR / LAYER / "python"), handle.name],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    os.unlink(handle.name)
    seconds = [r["seconds"] for r in runs]
    return {
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
        "status": runs[-1]["status"],
        "heavy_modules_loaded": runs[-1]["modules"],
    }


def warm_latency(function: str, store: Path, client_id: int, n: int) -> dict[str, Any]:
    """p50/p99 of the Mangum handler on each of the function's events (in this process)."""
    from serving.local_server import FUNCTIONS_DIR, load_function

    os.environ.update(local_environment(store))
    from creditscore_common.api import reset_caches

    reset_caches()
    name = function.removesuffix("Function").lower()
    assert (FUNCTIONS_DIR / name / "app.py").is_file()
    module = load_function(name)
    assert module is not None
    figures: dict[str, Any] = {}
    for event_name in FUNCTION_EVENTS[function]:
        event = event_for(event_name, client_id)
        for _ in range(20):
            module.handler(event, None)
        timings = np.empty(n)
        for i in range(n):
            started = time.perf_counter()
            answer = module.handler(event, None)
            timings[i] = time.perf_counter() - started
        assert answer["statusCode"] == 200, answer
        figures[event_name] = {
            "p50_ms": round(float(np.percentile(timings, 50)) * 1000, 3),
            "p99_ms": round(float(np.percentile(timings, 99)) * 1000, 3),
        }
    return figures


def run(model: Path, data: Path, out: Path, repeats: int, n: int) -> dict[str, Any]:
    """Every serving benchmark; publishes model and clients to a fresh local store first."""
    from training.publish import publish

    store_path = out / "lambda-store"
    store = LocalStore(store_path, create=True)
    publish(model, data, store, progress=False)
    client_id = int(store._db.execute("SELECT MIN(client_id) FROM clients").fetchone()[0])
    python = lambda_python()
    layer_mb = directory_mb(BUILD_DIR / LAYER)
    results: dict[str, Any] = {"layer_mb": round(layer_mb, 1)}
    for function in FUNCTION_EVENTS:
        results[function] = {
            "with_layer_mb": round(layer_mb + directory_mb(BUILD_DIR / function), 1),
            "cold_start": cold_starts(function, store_path, client_id, repeats, python),
            "warm": warm_latency(function, store_path, client_id, n),
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry of the serving benchmarks."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lambda_functions")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument("--repeats", type=int, default=5, help="cold starts per function")
    parser.add_argument("--requests", type=int, default=2000, help="warm calls per event")
    args = parser.parse_args(argv)
    if not (BUILD_DIR / LAYER).is_dir():
        raise SystemExit("no .aws-sam/build: run `make build` first")
    results = run(args.model, args.data, args.out, args.repeats, args.requests)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lambda_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))  # noqa: T201 - the benchmark's report
    return 0


if __name__ == "__main__":
    sys.exit(main())
