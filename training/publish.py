"""`creditscore publish`: load a model version and the new clients into a store.

Order matters for readers: the version's files first, then the clients, and last the
``active`` pointer, switched in one atomic step. Running it twice changes nothing, and a
rerun completes a publish that was interrupted (every step is idempotent).

The whole publish runs inside :meth:`Store.publishing`: on the local store, a lock that
keeps two publishes apart and a marker naming the version. A publish that dies (killed,
full disk...) leaves the marker, and /health says "a publish of version X did not finish"
until a rerun; the rerun first removes the staging folders and temporary files it left.

Clients are written before the switch, so between the two (for good, if the publish dies
there) the new clients are served by the previous version. That is deliberate: activation
is the commit point of a publish (a publish that fails before it leaves the served model as
it was), every answer and every recorded decision names the version it came from, and the
unfinished publish shows in /health. Hiding new clients until activation would need a
second clients table swapped at activation, in both backends, for a window of seconds.

The switch is recorded in the store's model history (``publish`` event: who, when, why,
the version it replaced; see :meth:`Store.activate_recorded`). ``activate=False`` stops
before the switch: the version and the clients are in the store, and ``creditscore
promote`` decides whether the version becomes the active one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from creditscore_common.model import ScoringModel
from creditscore_common.store import Application, Store
from creditscore_common.version import verify_version
from training.data import NEW_CLIENTS_FILE, ApplicationTable, load_applications
from training.lifecycle import default_actor

log = logging.getLogger(__name__)
CHUNK = 2_000


class StoreWriteError(Exception):
    """The store refused a write (permissions, read-only or full disk...); ``args[0]`` says why.

    The ``active`` pointer is written last, so the active version is left unchanged.
    """


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class PublishSummary:
    """What a publish changed."""

    model_version: str
    model_copied: bool
    activated: bool
    n_clients: int
    n_clients_written: int


def _client_rows(
    table: ApplicationTable, progress: bool
) -> Iterator[list[tuple[int, Application]]]:
    bar = tqdm(total=table.n_rows, desc="clients", unit="client", disable=not progress)
    for start in range(0, table.n_rows, CHUNK):
        stop = min(start + CHUNK, table.n_rows)
        yield [(int(table.ids[i]), table.record(i)) for i in range(start, stop)]
        bar.update(stop - start)
    bar.close()


def publish(
    model_path: Path,
    data_dir: Path,
    store: Store,
    progress: bool = True,
    *,
    activate: bool = True,
    by: str | None = None,
    reason: str = "published",
) -> PublishSummary:
    """Publish ``model_path`` (checked against its hashes) and the new clients of ``data_dir``.

    ``activate=False`` leaves the active version as it is; ``by`` and ``reason`` go to the
    history event of the switch (``by`` defaults to :func:`training.lifecycle.default_actor`).
    """
    model = ScoringModel.load(model_path)
    verify_version(model.folder)  # every file: refuses an altered version before anything moves
    new_clients = load_applications(data_dir / NEW_CLIENTS_FILE, with_target=False)
    try:
        with store.publishing(model.version):
            version, copied = store.put_model_version(model.folder)
            written = sum(store.put_clients(rows) for rows in _client_rows(new_clients, progress))
            activated = activate and store.activate_recorded(  # last: the commit point
                version, "publish", by or default_actor(), reason
            )
    except (OSError, sqlite3.Error) as error:
        raise StoreWriteError(_reason(error)) from error
    log.info("published %s: %d clients (%d written)", version, new_clients.n_rows, written)
    return PublishSummary(version, copied, activated, new_clients.n_rows, written)
