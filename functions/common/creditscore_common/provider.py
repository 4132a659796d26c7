"""The model life cycle of a function: which version is active, fetching it, loading it.

The active model is loaded once per container and kept; the store's ``active`` pointer is
looked at again at most every ``MODEL_REFRESH_SECONDS``, so publishing a new version reaches
warm functions without a redeploy while a request never waits on more than one small read.

Each function names the files of a version it reads (``files``): the provider has the store
fetch those, and no others, whenever the active version changes. Loading the model verifies
``model.onnx``; every other file is verified by the code that reads it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from creditscore_common.errors import ModelUnavailableError
from creditscore_common.model import ScoringModel
from creditscore_common.store import Store
from creditscore_common.version import ONNX_FILE, ModelIntegrityError

log = logging.getLogger(__name__)


class ModelProvider:
    """The active model version of a store, loaded once and refreshed on a timer.

    ``files``: the files of a version the caller reads beside ``metadata.json``
    (``model.onnx`` always: every function scores); None fetches every file of the version.
    """

    def __init__(
        self, store: Store, refresh_seconds: float = 60.0, files: Iterable[str] | None = None
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._files = None if files is None else frozenset({ONNX_FILE, *files})
        self._model: ScoringModel | None = None
        #: Whether the files of the loaded version include every one of ``files``.
        self._complete = False
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def files(self) -> frozenset[str] | None:
        """The files fetched for each version beside metadata.json (None: all of them)."""
        return self._files

    def need(self, files: Iterable[str]) -> None:
        """Fetch these files too, from the next call on (a function declared later)."""
        with self._lock:
            if self._files is None or self._files.issuperset(files):
                return
            self._files = self._files.union(files)
            self._complete = False
            self._checked_at = float("-inf")

    def current(self) -> ScoringModel:
        """The active model; ModelUnavailableError if none can be served."""
        model = self._model
        if model is not None and time.monotonic() - self._checked_at < self.refresh_seconds:
            return model
        with self._lock:
            return self._refresh()

    def _refresh(self) -> ScoringModel:
        self._checked_at = time.monotonic()
        version = self.store.active_version()
        if version is None:
            raise ModelUnavailableError("no model version is active: run `creditscore publish`")
        loaded = self._model if self._model is not None and self._model.version == version else None
        if loaded is not None and self._complete:
            return loaded
        try:
            folder = self.store.model_dir(version, files=self._files)
            model = loaded or ScoringModel.load(folder)
        except ModelIntegrityError as error:
            log.error("refusing model %s: %s", version, error)
            raise ModelUnavailableError(f"model {version} failed its integrity check") from error
        except (OSError, KeyError, ValueError) as error:
            raise ModelUnavailableError(f"model {version} cannot be loaded: {error}") from error
        if loaded is None:
            log.info("model %s loaded", version)
        self._model, self._complete = model, True
        return model

    def loaded_version(self) -> str | None:
        """The version in memory, without touching the store."""
        return None if self._model is None else self._model.version


def served_file(model: ScoringModel, name: str) -> bytes:
    """A file of the model version, checked against its recorded sha256 (503 if it fails)."""
    try:
        return model.read_file(name)
    except ModelIntegrityError as error:
        log.error("model %s refused: %s", model.version, error)
        raise ModelUnavailableError(
            f"model {model.version}: {name} failed its integrity check"
        ) from error
    except OSError as error:
        raise ModelUnavailableError(f"model {model.version}: cannot read {name}") from error
