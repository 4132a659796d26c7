"""The embedded store: one folder with model versions and an SQLite database.

Layout::

    PATH/models/<version>/...     the files of each model version
    PATH/models/active            the active version's name (replaced atomically)
    PATH/store.sqlite             clients and decisions
    PATH/monitoring/drift_summary.json   the latest drift summary (replaced atomically)
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from creditscore_common.errors import ClientNotFoundError, StoreUnavailableError
from creditscore_common.store.base import (
    ACTIVE_POINTER,
    DECISION_FIELDS,
    DRIFT_SUMMARY_FILE,
    MODELS_PREFIX,
    MONITORING_PREFIX,
    SEARCH_FIELDS,
    SUMMARY_FIELDS,
    Application,
    ClientSummary,
    Store,
    decode_application,
    encode_application,
    is_id_prefix,
    search_terms,
)
from creditscore_common.version import read_metadata, version_files

DATABASE_FILE = "store.sqlite"
#: The largest integer SQLite stores (a signed 64-bit integer): no client id is above it.
_MAX_ID = 2**63 - 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id INTEGER PRIMARY KEY,
    application TEXT NOT NULL
);
"""

#: The decision audit log: append-only (triggers refuse UPDATE and DELETE), one row a
#: decision; the autoincrement id keeps the order of arrival.
_DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id INTEGER NOT NULL,
    decided_at TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accept', 'refuse')),
    comment TEXT NOT NULL,
    advisor TEXT NOT NULL,
    probability REAL NOT NULL,
    threshold REAL NOT NULL,
    model_version TEXT NOT NULL,
    UNIQUE (client_id, decided_at)
);
CREATE TRIGGER IF NOT EXISTS decisions_are_never_updated BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_are_never_deleted BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

    def model_dir(self, version: str, files: Iterable[str] | None = None) -> Path:
        """The version's folder inside the store (it holds every file: ``files`` is moot)."""
        return self.models_dir / version

    def put_model_version(self, folder: Path) -> tuple[str, bool]:
        """Copy a version folder in (aside, then one rename); no-op if already there."""
        version = str(read_metadata(folder)["model_version"])
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
        except OverflowError as error:  # beyond SQLite's 64-bit integers: no such client
            raise ClientNotFoundError(client_id) from error
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

    def list_clients(
        self, limit: int, cursor: int | None = None, query: str | None = None
    ) -> tuple[list[tuple[int, ClientSummary]], int | None]:
        """Clients by increasing id after ``cursor``; the search runs in SQL.

        Same rule as :func:`~creditscore_common.store.base.matches_search`: a word of digits
        is an id prefix, another word a case-insensitive part of a search field (LIKE).
        """
        if cursor is not None and int(cursor) >= _MAX_ID:
            return [], None  # no client id is beyond SQLite's largest integer
        columns = ", ".join(f"json_extract(application, '$.{f}')" for f in SUMMARY_FIELDS)
        where = ["client_id > ?"]
        parameters: list[Any] = [-1 if cursor is None else max(int(cursor), -1)]
        for term in search_terms(query):
            if is_id_prefix(term):
                where.append("CAST(client_id AS TEXT) LIKE ? ESCAPE '\\'")
                parameters.append(f"{term}%")
            else:
                fields = " OR ".join(
                    f"json_extract(application, '$.{f}') LIKE ? ESCAPE '\\'" for f in SEARCH_FIELDS
                )
                where.append(f"({fields})")
                parameters.extend([f"%{_like_escape(term)}%"] * len(SEARCH_FIELDS))
        sql = (
            f"SELECT client_id, {columns} FROM clients WHERE {' AND '.join(where)} "
            "ORDER BY client_id LIMIT ?"
        )
        parameters.append(int(limit) + 1)  # one more tells whether a next page exists
        try:
            with self._lock:
                rows = self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store: {error}") from error
        page = [
            (
                int(row[0]),
                {f: v for f, v in zip(SUMMARY_FIELDS, row[1:], strict=True) if v is not None},
            )
            for row in rows[:limit]
        ]
        next_cursor = page[-1][0] if len(rows) > limit else None
        return page, next_cursor

    # ---------------------------------------------------------------- decisions

    def _decisions_ready(self) -> None:
        """Create the decisions table on first use (stores made before it existed)."""
        if getattr(self, "_has_decisions", False):
            return
        with self._lock:
            self._db.executescript(_DECISIONS_SCHEMA)
        self._has_decisions = True

    def add_decision(self, record: Mapping[str, Any]) -> None:
        """INSERT one decision (never UPDATE or DELETE); a duplicate key is refused."""
        values = [record[f] for f in DECISION_FIELDS]
        try:
            self._decisions_ready()
            with self._lock:
                self._db.execute(
                    f"INSERT INTO decisions ({', '.join(DECISION_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(DECISION_FIELDS))})",
                    values,
                )
        except sqlite3.IntegrityError as error:
            raise StoreUnavailableError(f"decision not recorded: {error}") from error
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store: {error}") from error

    def list_decisions(self, client_id: int) -> list[dict[str, Any]]:
        """Decisions on a client in the order they were made."""
        try:
            self._decisions_ready()
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions WHERE client_id = ? "
                    "ORDER BY decided_at, id",
                    (int(client_id),),
                ).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store: {error}") from error
        return [dict(zip(DECISION_FIELDS, row, strict=True)) for row in rows]

    def all_decisions(self) -> list[dict[str, Any]]:
        """Every decision of every client, in the order they were made."""
        try:
            self._decisions_ready()
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions ORDER BY decided_at, id"
                ).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store: {error}") from error
        return [dict(zip(DECISION_FIELDS, row, strict=True)) for row in rows]

    # ---------------------------------------------------------------- monitoring

    @property
    def drift_summary_path(self) -> Path:
        """The file holding the latest drift summary."""
        return self.root / MONITORING_PREFIX / DRIFT_SUMMARY_FILE

    def put_drift_summary(self, summary: Mapping[str, Any]) -> None:
        """Write the summary aside, then rename it over the previous one (atomic)."""
        target = self.drift_summary_path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".drift-", dir=target.parent)
            try:
                with os.fdopen(handle, "w") as file:
                    json.dump(summary, file, allow_nan=False, ensure_ascii=False)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise StoreUnavailableError(f"cannot write {target}: {error}") from error

    def get_drift_summary(self) -> dict[str, Any] | None:
        """The latest drift summary, or None before any was published."""
        path = self.drift_summary_path
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreUnavailableError(f"cannot read {path}: {error}") from error
        try:
            summary: dict[str, Any] = json.loads(text)
        except ValueError as error:
            raise StoreUnavailableError(f"{path} is not JSON: {error}") from error
        return summary

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()
