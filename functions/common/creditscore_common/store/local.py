"""The embedded store: one folder with model versions and an SQLite database.

Layout::

    PATH/models/<version>/...     the files of each model version
    PATH/models/active            the active version's name (replaced atomically)
    PATH/models/history.jsonl     every change of the active version (replaced atomically)
    PATH/models/promotions/<version>.json   the last comparison `promote` made for a version
    PATH/models/.publishing       the version a publish is writing (removed when it is done)
    PATH/models/.publish.lock     held (flock) by the publish that is running
    PATH/store.sqlite             clients and decisions (WAL: -wal and -shm beside it)
    PATH/monitoring/drift_summary.json   the latest drift summary (replaced atomically)

Only ``create=True`` (``creditscore publish``) makes a database: a server (re)started on a
folder whose database is gone answers 503 instead of serving an empty store where every
client is unknown.

The database is opened once. Before every statement the store checks that the files it
opened are still the ones at their paths, and that it may write them:

* a database deleted or replaced under the process would swallow every later decision (the
  process writes into the unlinked file, and a restart finds nothing): refused with 503;
* WAL keeps its index in ``store.sqlite-shm``, which SQLite maps into memory and writes on
  reads too. A write through that mapping to a file made immutable (``chattr +i``) or on a
  filesystem that refuses it is not an error code but SIGBUS, which kills the process. The
  check (``access(W_OK)``, which sees immutable files, even for root) turns that into 503.
  WAL is kept all the same: a publish writing thousands of clients never blocks the
  server's readers, and a rollback journal would not spare the check (a refused write there
  leaves a hot journal that fails every later read with "disk I/O error"). What is left is
  a window of microseconds between the check and the statement.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from creditscore_common.errors import ClientNotFoundError, StoreUnavailableError
from creditscore_common.store.base import (
    ACTIVE_POINTER,
    DECISION_FIELDS,
    DRIFT_SUMMARY_FILE,
    HISTORY_FILE,
    MODELS_PREFIX,
    MONITORING_PREFIX,
    PROMOTIONS_PREFIX,
    SEARCH_FIELDS,
    SUMMARY_FIELDS,
    Application,
    ClientSummary,
    LifecycleAction,
    Store,
    decision_row,
    decode_application,
    decode_history,
    encode_application,
    encode_history,
    final_decision,
    is_id_prefix,
    lifecycle_event,
    search_terms,
    supersede_conflict,
)
from creditscore_common.version import read_metadata, version_files

log = logging.getLogger(__name__)

DATABASE_FILE = "store.sqlite"
#: The files SQLite keeps beside the database in WAL mode (log, and its shared-memory index).
WAL_SUFFIXES = ("-wal", "-shm")
#: In ``models/``: the version a publish is writing; left behind, the publish did not finish.
PUBLISH_MARKER = ".publishing"
#: In ``models/``: locked (flock) for as long as a publish runs, released by the kernel when
#: the process dies, so that a marker without a lock is a publish that did not finish.
PUBLISH_LOCK = ".publish.lock"
#: The folder a version is copied to before its rename (``tempfile.mkdtemp`` names).
_STAGING = re.compile(r"^\.(?P<version>.+)-[a-z0-9_]{8}$")
#: Files written aside then renamed, left behind if a process dies in between.
_TEMPORARY_PREFIXES = (f".{ACTIVE_POINTER}-", f"{PUBLISH_MARKER}-", f".{HISTORY_FILE}-")
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
    overrides_model INTEGER,
    reason_code TEXT,
    supersedes TEXT,
    idempotency_key TEXT,
    UNIQUE (client_id, decided_at)
);
CREATE TRIGGER IF NOT EXISTS decisions_are_never_updated BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_are_never_deleted BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""
#: Columns added to the decisions table after it first shipped (nullable: older rows have
#: none), added by :meth:`LocalStore._decisions_ready` to a table made without them.
_DECISIONS_ADDED_COLUMNS = {
    "overrides_model": "INTEGER",
    "reason_code": "TEXT",
    "supersedes": "TEXT",
    "idempotency_key": "TEXT",
}
#: One record a key per client (NULLs are distinct: requests without a key are not
#: deduplicated), and a record superseded at most once (no two replacements of one record).
_DECISIONS_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency_key
    ON decisions (client_id, idempotency_key);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_supersede_once
    ON decisions (client_id, supersedes) WHERE supersedes IS NOT NULL;
"""


def _sql_value(value: Any) -> Any:
    """A decision field as SQLite stores it (a bool as 0 or 1)."""
    return int(value) if isinstance(value, bool) else value


def _decision_of(row: Iterable[Any]) -> dict[str, Any]:
    """A decisions row (:data:`DECISION_FIELDS` columns) as a record."""
    fields = dict(zip(DECISION_FIELDS, row, strict=True))
    if fields["overrides_model"] is not None:
        fields["overrides_model"] = bool(fields["overrides_model"])
    return decision_row(fields)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _identity(path: Path) -> tuple[int, int]:
    """(device, inode) of a file: a file deleted, or replaced by another, has a new one."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _write_aside(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target``, then rename it over (atomic)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name.lstrip('.')}-", dir=target.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class LocalStore(Store):
    """Folder + SQLite backend; safe to share between the threads of one process."""

    def __init__(self, root: Path, create: bool = False) -> None:
        """Open the store at ``root``; only ``create`` (publish) makes the folder or database.

        StoreUnavailableError if the folder or its database is missing (without ``create``),
        is not a store's database, or cannot be written.
        """
        self.root = Path(root)
        database = self.root / DATABASE_FILE
        if create:
            (self.root / MODELS_PREFIX).mkdir(parents=True, exist_ok=True)
            self._refuse_orphan_journal()
        elif not self.root.is_dir():
            raise StoreUnavailableError(f"local store {self.root} does not exist")
        elif not database.is_file():
            raise StoreUnavailableError(
                f"local store {self.root}: its database {DATABASE_FILE} is missing; restore it "
                "from a backup, or run `creditscore publish` to make a new one (the decisions "
                "recorded in the lost file are not in a new one)"
            )
        self._lock = threading.Lock()
        #: Whether this object holds the publish lock (:meth:`publishing`), which
        #: :meth:`activate_recorded` takes itself when its caller does not.
        self._publish_held = False
        #: (device, inode) of the database files this process opened, by file name.
        self._opened: dict[str, tuple[int, int]] = {}
        if database.exists():
            self._check_writable(self._database_files())
        elif self._has_versions():
            log.warning("%s: no %s, a new empty database is made", self.root, DATABASE_FILE)
        mode = "rwc" if create else "rw"  # rw: never make an empty database behind a server
        try:
            self._db = sqlite3.connect(
                f"{database.resolve().as_uri()}?mode={mode}",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"local store {self.root}: {error}") from error
        try:
            # Checked before anything is written (journal_mode writes an empty file's header).
            if (
                not create
                and not self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clients'"
                ).fetchone()
            ):
                raise StoreUnavailableError(
                    f"local store {self.root}: {DATABASE_FILE} has no clients table (an empty "
                    "or foreign file): restore the store's database, or run `creditscore "
                    "publish`"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            if create:
                self._db.executescript(_SCHEMA)
            for path in self._database_files():
                with suppress(FileNotFoundError):
                    self._opened[path.name] = _identity(path)
        except BaseException as error:
            self._db.close()
            if isinstance(error, sqlite3.Error):
                raise StoreUnavailableError(f"local store {self.root}: {error}") from error
            raise

    @property
    def models_dir(self) -> Path:
        """Folder of the model versions."""
        return self.root / MODELS_PREFIX

    # ---------------------------------------------------------------- database files

    def _database_files(self) -> list[Path]:
        database = self.root / DATABASE_FILE
        return [database, *(database.with_name(DATABASE_FILE + s) for s in WAL_SUFFIXES)]

    def _has_versions(self) -> bool:
        return (self.models_dir / ACTIVE_POINTER).exists()

    def _refuse_orphan_journal(self) -> None:
        """Refuse to make a database beside the log of a deleted one (it would be replayed)."""
        database = self.root / DATABASE_FILE
        orphans = [p.name for p in self._database_files()[1:] if p.exists()]
        if orphans and not database.exists():
            raise StoreUnavailableError(
                f"local store {self.root}: {DATABASE_FILE} is missing but {', '.join(orphans)} "
                "is there (the last decisions of the deleted database may be in it, and a "
                "server may still have it open): stop the servers on this store and restore "
                f"{DATABASE_FILE}, or move {', '.join(orphans)} aside, before publishing"
            )

    @staticmethod
    def _check_writable(paths: Iterable[Path]) -> None:
        for path in paths:
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreUnavailableError(
                    f"the store file {path.name} cannot be written (read-only or immutable, "
                    "e.g. chattr +i): nothing was read or written; restore write access "
                    "(chattr -i, chmod u+w) to the store's files"
                )

    def _check_files(self, write: bool) -> None:
        """Refuse a database deleted or replaced under this process, or one it cannot write.

        Reads are checked too: SQLite writes the -shm index on reads (see the module doc).
        """
        files = self._database_files()
        for path in files:
            opened = self._opened.get(path.name)
            try:
                now = _identity(path)
            except FileNotFoundError:
                if opened is None:
                    continue
                raise StoreUnavailableError(
                    f"the store file {path.name} was deleted while the store was open: nothing "
                    "is read or written (a decision written now would be lost with the deleted "
                    f"file); restore {DATABASE_FILE} from a backup or republish, then restart "
                    "the server"
                ) from None
            except OSError as error:
                raise StoreUnavailableError(f"cannot check {path.name}: {error}") from error
            if opened is None:  # made by SQLite after the store was opened
                self._opened[path.name] = now
            elif now != opened:
                raise StoreUnavailableError(
                    f"the store file {path.name} was replaced while the store was open: "
                    "nothing is read or written in the old one; restart the server to use it"
                )
        self._check_writable(files if write else files[2:])

    @contextmanager
    def _database(self, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, after :meth:`_check_files`; errors become 503."""
        with self._lock:
            self._check_files(write)
            try:
                yield self._db
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as error:
                raise StoreUnavailableError(f"local store: {error}") from error

    # ---------------------------------------------------------------- health, publish

    def health_problem(self) -> str | None:
        """Why this store cannot serve as it should now, or None (see the module doc).

        A database deleted, replaced or not writable; a publish that did not finish (its
        marker is there and no publish holds the lock); or a staging folder an interrupted
        publish left (stores published before the marker existed).
        """
        try:
            with self._lock:
                self._check_files(write=True)
        except StoreUnavailableError as error:
            return str(error)
        return self._unfinished_publish()

    def _publish_marker(self) -> str | None:
        try:
            return (self.models_dir / PUBLISH_MARKER).read_text().strip() or "?"
        except FileNotFoundError:
            return None

    def _unfinished_publish(self) -> str | None:
        try:
            lock = os.open(self.models_dir / PUBLISH_LOCK, os.O_RDONLY)
        except FileNotFoundError:
            lock = None
        except OSError as error:
            return f"cannot read {PUBLISH_LOCK}: {error}"
        try:
            if lock is not None:
                try:  # shared: a publish (exclusive) cannot start while this looks
                    fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return None  # a publish is running: its half-done state is expected
            version = self._publish_marker()
            if version is not None:
                return (
                    f"a publish of version {version} did not finish (the active version is "
                    f"still {self.active_version()}): rerun `creditscore publish`"
                )
            left = self._leftovers()
            if left:
                return (
                    f"an interrupted publish left {', '.join(p.name for p in left)} in "
                    f"{MODELS_PREFIX}/: rerun `creditscore publish` (it removes them)"
                )
            return None
        finally:
            if lock is not None:
                os.close(lock)

    def _leftovers(self) -> list[Path]:
        """Staging folders and temporary files of a publish that died (no lock held)."""
        try:
            entries = sorted(self.models_dir.iterdir())
        except FileNotFoundError:
            return []
        return [
            entry
            for entry in entries
            if (entry.is_dir() and _STAGING.match(entry.name))
            or (entry.is_file() and entry.name.startswith(_TEMPORARY_PREFIXES))
        ]

    @contextmanager
    def publishing(self, version: str) -> Iterator[None]:
        """Hold the publish lock and the marker of ``version`` while a publish writes.

        Refused (StoreUnavailableError) while another publish runs. The staging folders and
        temporary files of a publish that died are removed first (and logged). The marker is
        removed when the body ends normally; after an error or a kill it stays, and /health
        says the publish did not finish until a rerun completes it.
        """
        self.models_dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.models_dir / PUBLISH_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreUnavailableError(
                    f"another publish (version {self._publish_marker()}) is running on this "
                    "store: wait for it to finish"
                ) from None
            unfinished = self._publish_marker()
            if unfinished is not None:
                log.warning(
                    "a publish of version %s did not finish; publishing %s now", unfinished, version
                )
            for leftover in self._leftovers():
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                log.warning("removed %s, left in %s by an interrupted publish", leftover.name,
                            self.models_dir)  # fmt: skip
            _write_aside(self.models_dir / PUBLISH_MARKER, version + "\n")
            self._publish_held = True
            try:
                yield
            finally:
                self._publish_held = False
            (self.models_dir / PUBLISH_MARKER).unlink()
        finally:
            os.close(lock)  # releases the lock

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
        _write_aside(self.models_dir / ACTIVE_POINTER, version + "\n")
        return True

    # ---------------------------------------------------------------- history, promotions

    @property
    def history_path(self) -> Path:
        """The history file, ``models/history.jsonl``."""
        return self.models_dir / HISTORY_FILE

    def model_history(self) -> list[dict[str, Any]]:
        """The recorded changes of the active version, oldest first."""
        try:
            text = self.history_path.read_text()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StoreUnavailableError(f"cannot read {self.history_path}: {error}") from error
        try:
            return decode_history(text, str(self.history_path))
        except ValueError as error:
            raise StoreUnavailableError(str(error)) from error

    def activate_recorded(
        self,
        version: str,
        action: LifecycleAction,
        by: str,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """The event, then the pointer, each replaced whole, under the publish lock.

        Taken here when the caller (publish) does not already hold it: two lifecycle
        commands never interleave. The history file is rewritten aside and renamed over, so a
        reader sees it without or with the new line; a death between the two renames leaves
        the publish marker (/health reports it) and an event a rerun completes.
        """
        if not self._publish_held:
            with self.publishing(version):
                return self.activate_recorded(version, action, by, reason, details)
        if not (self.model_dir(version) / "metadata.json").is_file():
            raise ValueError(f"model version {version} is not in the store")
        active = self.active_version()
        if active == version:
            return False
        history = self.model_history()
        last = history[-1] if history else None
        if last is not None and last["version"] == version and last.get("previous") == active:
            log.warning("completing the switch to %s recorded at %s", version, last.get("at"))
        else:
            event = lifecycle_event(version, action, by, reason, active, details)
            _write_aside(self.history_path, encode_history([*history, event]))
        self.activate(version)  # the pointer, written aside then renamed
        return True

    def put_promotion(self, version: str, comparison: Mapping[str, Any]) -> str:
        """Write ``models/promotions/<version>.json`` aside, then rename it over."""
        target = self.models_dir / PROMOTIONS_PREFIX / f"{version}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_aside(target, json.dumps(comparison, allow_nan=False, indent=2) + "\n")
        return str(target)

    # ---------------------------------------------------------------- clients

    def get_client(self, client_id: int) -> Application:
        """The raw application of a new client."""
        try:
            with self._database(write=False) as db:
                row = db.execute(
                    "SELECT application FROM clients WHERE client_id = ?", (client_id,)
                ).fetchone()
        except OverflowError as error:  # beyond SQLite's 64-bit integers: no such client
            raise ClientNotFoundError(client_id) from error
        if row is None:
            raise ClientNotFoundError(client_id)
        return decode_application(row[0])

    def put_clients(self, clients: Iterable[tuple[int, Application]]) -> int:
        """Upsert clients in one transaction; rows whose JSON is unchanged are not touched."""
        rows = [(int(cid), encode_application(app)) for cid, app in clients]
        with self._database(write=True) as db:
            before = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO clients (client_id, application) VALUES (?, ?) "
                    "ON CONFLICT(client_id) DO UPDATE SET application = excluded.application "
                    "WHERE clients.application IS NOT excluded.application",
                    rows,
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return db.total_changes - before

    def count_clients(self) -> int:
        """Number of new clients."""
        with self._database(write=False) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM clients").fetchone()
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
        with self._database(write=False) as db:
            rows = db.execute(sql, parameters).fetchall()
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
        """Create the decisions table on first use, or migrate one made by an older version.

        A table made before the idempotency key and supersession gains their (nullable)
        columns and unique indexes; every step is a no-op once done.
        """
        if getattr(self, "_has_decisions", False):
            return
        with self._database(write=False) as db:
            db.executescript(_DECISIONS_SCHEMA)
            present = {row[1] for row in db.execute("PRAGMA table_info(decisions)")}
            for column, kind in _DECISIONS_ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind}")
            db.executescript(_DECISIONS_INDEXES)
        self._has_decisions = True

    def add_decision(self, record: Mapping[str, Any], exclusive: bool = False) -> dict[str, Any]:
        """INSERT one decision (never UPDATE or DELETE) under the rules of the interface.

        The key lookup, the final-decision check and the INSERT run in one BEGIN IMMEDIATE
        transaction: other processes sharing the database wait, so none slips in between.
        """
        values = [_sql_value(record.get(f)) for f in DECISION_FIELDS]
        self._decisions_ready()
        try:
            with self._database(write=True) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    earlier = self._decision_with_key(db, record)
                    if earlier is not None:
                        db.execute("ROLLBACK")
                        return earlier
                    if exclusive:
                        client_id = int(record["client_id"])
                        final = final_decision(self._client_decisions(db, client_id))
                        expected = None if final is None else final["decided_at"]
                        if record.get("supersedes") != expected:
                            raise supersede_conflict(final, record.get("supersedes"))
                    db.execute(
                        f"INSERT INTO decisions ({', '.join(DECISION_FIELDS)}) "
                        f"VALUES ({', '.join('?' * len(DECISION_FIELDS))})",
                        values,
                    )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
        except sqlite3.IntegrityError as error:
            raise StoreUnavailableError(f"decision not recorded: {error}") from error
        return decision_row(record)

    @staticmethod
    def _decision_with_key(
        db: sqlite3.Connection, record: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The client's record made with ``record``'s idempotency key, if any."""
        if record.get("idempotency_key") is None:
            return None
        row = db.execute(
            f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions "
            "WHERE client_id = ? AND idempotency_key = ?",
            (int(record["client_id"]), str(record["idempotency_key"])),
        ).fetchone()
        return None if row is None else _decision_of(row)

    @staticmethod
    def _client_decisions(db: sqlite3.Connection, client_id: int) -> list[dict[str, Any]]:
        """The client's decisions, oldest first (the caller holds the database)."""
        rows = db.execute(
            f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions WHERE client_id = ? "
            "ORDER BY decided_at, id",
            (client_id,),
        ).fetchall()
        return [_decision_of(row) for row in rows]

    def list_decisions(self, client_id: int) -> list[dict[str, Any]]:
        """Decisions on a client in the order they were made (none beyond SQLite's ids)."""
        if not -_MAX_ID - 1 <= int(client_id) <= _MAX_ID:
            return []
        self._decisions_ready()
        with self._database(write=False) as db:
            return self._client_decisions(db, int(client_id))

    def all_decisions(self) -> list[dict[str, Any]]:
        """Every decision of every client, in the order they were made."""
        self._decisions_ready()
        with self._database(write=False) as db:
            rows = db.execute(
                f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions ORDER BY decided_at, id"
            ).fetchall()
        return [_decision_of(row) for row in rows]

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
