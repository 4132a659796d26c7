"""The embedded store: one folder with model versions and an SQLite database.

Layout::

    PATH/models/<version>/...     the files of each model version
    PATH/models/active            the active version's name (replaced atomically)
    PATH/store.sqlite             clients (and, later, decisions)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from creditscore_common.errors import ClientNotFoundError, StoreUnavailableError
from creditscore_common.store.base import (
    ACTIVE_POINTER,
    MODELS_PREFIX,
    Application,
    Store,
    decode_application,
    encode_application,
    version_files,
)

DATABASE_FILE = "store.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id INTEGER PRIMARY KEY,
    application TEXT NOT NULL
);
"""


class LocalStore(Store):
    """Folder + SQLite backend; safe to share between the threads of one process."""

    def __init__(self, root: Path, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            (self.root / MODELS_PREFIX).mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise StoreUnavailableError(f"local store {self.root} does not exist")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.root / DATABASE_FILE, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store {self.root}: {error}") from error

    @property
    def models_dir(self) -> Path:
        """Folder of the model versions."""
        return self.root / MODELS_PREFIX

    # ---------------------------------------------------------------- model versions

    def active_version(self) -> str | None:
        """Name of the active model version, or None before any publish."""
        pointer = self.models_dir / ACTIVE_POINTER
        try:
            return pointer.read_text().strip() or None
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailableError(f"cannot read {pointer}: {error}") from error

    def model_dir(self, version: str) -> Path:
        """The version's folder inside the store."""
        return self.models_dir / version

    def put_model_version(self, folder: Path) -> tuple[str, bool]:
        """Copy a version folder in (aside, then one rename); no-op if already there."""
        import json

        from creditscore_common.model import METADATA_FILE

        version = str(json.loads((folder / METADATA_FILE).read_text())["model_version"])
        target = self.model_dir(version)
        if target.is_dir():
            return version, False
        self.models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self.models_dir))
        try:
            for name in version_files(folder):
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(folder / name, destination)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version, True

    def activate(self, version: str) -> bool:
        """Point ``active`` at a published version (write aside, then rename)."""
        if not (self.model_dir(version)).is_dir():
            raise ValueError(f"model version {version} is not in the store")
        if self.active_version() == version:
            return False
        handle, temporary = tempfile.mkstemp(prefix=".active-", dir=self.models_dir)
        with os.fdopen(handle, "w") as pointer:
            pointer.write(version + "\n")
        os.replace(temporary, self.models_dir / ACTIVE_POINTER)
        return True

    # ---------------------------------------------------------------- clients

    def get_client(self, client_id: int) -> Application:
        """The raw application of a new client."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT application FROM clients WHERE client_id = ?", (client_id,)
                ).fetchone()
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store: {error}") from error
        if row is None:
            raise ClientNotFoundError(client_id)
        return decode_application(row[0])

    def put_clients(self, clients: Iterable[tuple[int, Application]]) -> int:
        """Upsert clients in one transaction; rows whose JSON is unchanged are not touched."""
        rows = [(int(cid), encode_application(app)) for cid, app in clients]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO clients (client_id, application) VALUES (?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET application = excluded.application "
                    "WHERE clients.application IS NOT excluded.application",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def count_clients(self) -> int:
        """Number of new clients."""
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM clients").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()
