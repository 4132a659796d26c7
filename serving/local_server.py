"""The local server: every route of the three functions in one process, on one store.

This is the only place that knows the functions run together. Each function's ``app.py``
exposes a ``router``; here they are mounted on one FastAPI app served by uvicorn, with the
same error handling and the same dependencies (store, model, auth) as on Lambda.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI

FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"
FUNCTION_NAMES = ("score", "explain", "client")
ENV_FILE = Path(".env")

log = logging.getLogger(__name__)


def load_function(name: str) -> ModuleType | None:
    """Import ``functions/<name>/app.py`` under a unique module name (None if absent)."""
    path = FUNCTIONS_DIR / name / "app.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"creditscore_function_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_env_file(path: Path = ENV_FILE) -> None:
    """Load KEY=VALUE lines of a .env file into the environment (existing values win)."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def configure_local(store_path: Path, traffic_log: Path | None = None) -> None:
    """Point the shared package at a local store (before any function is imported).

    ``traffic_log``: the file the score routes append their traffic lines to (None: off).
    """
    from creditscore_common.api import reset_caches

    os.environ["STORE_BACKEND"] = "local"
    os.environ["LOCAL_STORE_PATH"] = str(store_path)
    if traffic_log is not None:
        traffic_log.parent.mkdir(parents=True, exist_ok=True)
        os.environ["TRAFFIC_LOG"] = str(traffic_log)
    os.environ.setdefault("AUTH_MODE", "token")
    reset_caches()


def build_app() -> FastAPI:
    """One app with the routes of every function present under functions/."""
    from creditscore_common.api import create_app

    app = create_app(
        "Prêt à dépenser — credit scoring API (local)",
        "Score, explain and client routes of the three Lambda functions, served together.",
    )
    for name in FUNCTION_NAMES:
        module = load_function(name)
        if module is None:
            log.warning("functions/%s/app.py not found: its routes are not served", name)
            continue
        app.include_router(module.router)
    return app


class ServeConfigError(ValueError):
    """The server cannot start as asked (no token, no store folder): the message says why."""


def serve(
    store_path: Path,
    host: str,
    port: int,
    traffic_log: Path | None = None,
    workers: int = 1,
    access_log: bool = False,
) -> None:
    """Run uvicorn on the local store until interrupted (traffic lines to ``traffic_log``).

    ``workers`` processes share the port (each loads the model once); their environment,
    set here, points them at the same store. ``access_log``: a log line per request.

    A store folder whose database is missing, deleted or not writable does not stop the
    server: it starts, answers 503 with the reason, and /health says degraded (it never
    makes an empty database; ``creditscore publish`` does).
    """
    import uvicorn

    read_env_file()
    if not os.environ.get("API_TOKEN"):
        raise ServeConfigError("API_TOKEN is not set: export it or put API_TOKEN=... in .env")
    if not store_path.is_dir():
        raise ServeConfigError(f"no local store at {store_path}: run `creditscore publish` first")
    configure_local(store_path, traffic_log)
    if traffic_log is not None:
        log.info("served scores are logged to %s", traffic_log)
    if workers > 1:  # each worker process builds its own app from the environment set above
        uvicorn.run(
            "serving.local_server:build_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
        )
    else:
        uvicorn.run(build_app(), host=host, port=port, log_level="info", access_log=access_log)
