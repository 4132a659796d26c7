"""The model life cycle of a function: which version is active, fetching it, loading it.

The active model is loaded once per container and kept; the store's ``active`` pointer is
looked at again at most every ``MODEL_REFRESH_SECONDS``, so publishing a new version reaches
warm functions without a redeploy while a request never waits on more than one small read.

Each function names the files of a version it reads (``files``): the provider has the store
fetch those, and no others, whenever the active version changes. Loading the model verifies
``model.onnx``; every other file is verified by the code that reads it.

A file altered on disk after loading is noticed at the next look (every refresh stats the
served files and hashes again those whose inode, size or times changed), or at once when a
reader finds it (:func:`served_file`); /health then says degraded, naming version and file.

* ``model.onnx`` (every route scores): the version is refused as a whole. Every request
  gets the same 503 naming the version and the file until it is restored or another
  version is activated. An active version that fails its check is refused the same way:
  the previously loaded version is *not* served in its place, since the ``active`` pointer
  is the operator's word on which model answers, and an answer (or a recorded decision)
  from a version they replaced would contradict it. Rolling back is one ``activate``.
* Another file (the booster, the profiles...): only the routes that read it are refused
  (an altered booster does not stop scoring): :func:`served_file` verifies every read, and
  a reader that keeps what it built from an earlier read (a parsed booster) asks
  :func:`check_served_file` (no read, a dictionary lookup) before each use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from creditscore_common.errors import CreditScoreError, ModelUnavailableError
from creditscore_common.model import ScoringModel
from creditscore_common.store import Store
from creditscore_common.version import (
    ONNX_FILE,
    ModelIntegrityError,
    read_verified,
    recorded_files,
)

log = logging.getLogger(__name__)

#: What tells that a file may have changed: inode, size, modification and change times
#: (ctime moves on any write or metadata change and cannot be set back by a user).
FileStamp = tuple[int, int, int, int]

#: (version folder, file name) -> why: files found altered, by a look or by a reader. Shared
#: by every provider and reader of the process; a look that finds the file intact clears it.
_altered_files: dict[tuple[Path, str], ModelUnavailableError] = {}


def _stamp(path: Path) -> FileStamp:
    status = os.stat(path)
    return status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


class ModelProvider:
    """The active model version of a store, loaded once and refreshed on a timer.

    ``files``: the files of a version the caller reads beside ``metadata.json``
    (``model.onnx`` always: every function scores); None fetches every file of the version.
    ``clock``: seconds of a monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        store: Store,
        refresh_seconds: float = 60.0,
        files: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._files = None if files is None else frozenset({ONNX_FILE, *files})
        #: The last version loaded (kept to serve again once its files are restored).
        self._model: ScoringModel | None = None
        #: What the last look decided: the model every request gets, or the error it gets.
        self._serving: ScoringModel | CreditScoreError | None = None
        #: The stamp of each served file of ``_model`` when its hash was last checked.
        self._stamps: dict[str, FileStamp] = {}
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
        """The active model; ModelUnavailableError (or StoreUnavailableError) if none is served.

        Between two looks at the store every call gets the same answer: the model, or the
        error of the last look.
        """
        serving = self._serving
        # An error worth retrying soon (a throttled or unreachable store) is kept only until
        # its Retry-After, not for the whole refresh period: recovery is seen at once.
        window = self.refresh_seconds
        if isinstance(serving, CreditScoreError) and serving.retry_after is not None:
            window = min(window, serving.retry_after)
        if self._clock() - self._checked_at < window:
            if isinstance(serving, CreditScoreError):
                raise serving
            if serving is not None and (serving.folder, ONNX_FILE) not in _altered_files:
                return serving
        with self._lock:
            return self._refresh()

    def _refresh(self) -> ScoringModel:
        self._checked_at = self._clock()
        try:
            model = self._active_model()
        except CreditScoreError as error:
            self._serving = error
            raise
        self._serving = model
        return model

    def _active_model(self) -> ScoringModel:
        version = self.store.active_version()
        if version is None:
            raise ModelUnavailableError("no model version is active: run `creditscore publish`")
        loaded = self._model if self._model is not None and self._model.version == version else None
        try:
            if loaded is not None and self._complete:
                self._verify(loaded)
                return loaded
            folder = self.store.model_dir(version, files=self._files)
            model = loaded or ScoringModel.load(folder)
            if loaded is None:
                self._stamps = {}
            self._verify(model)
        except ModelIntegrityError as error:
            log.error("refusing model %s: %s", version, error)
            raise ModelUnavailableError(
                f"model {version} failed its integrity check: {error}"
            ) from error
        except (OSError, KeyError, ValueError) as error:
            raise ModelUnavailableError(f"model {version} cannot be loaded: {error}") from error
        if loaded is None:
            log.info("model %s loaded", version)
        self._model, self._complete = model, True
        return model

    def _verify(self, model: ScoringModel) -> None:
        """Hash again each served file whose stamp changed, or that a reader found altered.

        The served files: ``model.onnx`` and the ``files`` of this provider that the
        metadata records (with ``files`` None, ``model.onnx`` only: other readers verify
        what they read). ModelIntegrityError for ``model.onnx``; another file found altered
        is recorded for its readers (:func:`served_file`) and for :meth:`problems`.
        """
        recorded = recorded_files(model.metadata)
        names = sorted(({ONNX_FILE} | (self._files or set())) & set(recorded))
        for name in names:
            key = (model.folder, name)
            try:
                stamp = _stamp(model.folder / name)  # taken before the read: a later change shows
                if key not in _altered_files and self._stamps.get(name) == stamp:
                    continue
                self._stamps.pop(name, None)
                read_verified(model.folder, model.metadata, name)
            except (ModelIntegrityError, FileNotFoundError) as error:
                if isinstance(error, FileNotFoundError):
                    error = ModelIntegrityError(
                        f"model {model.version}: {name} is listed in metadata but missing"
                    )
                if name == ONNX_FILE:
                    raise error from None
                if key not in _altered_files:
                    log.error("model %s: refusing %s to its readers: %s", model.version, name,
                              error)  # fmt: skip
                _altered_files[key] = _refusal(model, name, error)
                continue
            _altered_files.pop(key, None)
            self._stamps[name] = stamp

    def problems(self) -> list[str]:
        """Why the served version is not whole: its files found altered (for /health)."""
        serving = self._serving
        if not isinstance(serving, ScoringModel):
            return []
        return [
            str(e) for (folder, _), e in sorted(_altered_files.items()) if folder == serving.folder
        ]

    def loaded_version(self) -> str | None:
        """The version every request is served with now (None: none, or refused)."""
        serving = self._serving
        return serving.version if isinstance(serving, ScoringModel) else None


def _refusal(model: ScoringModel, name: str, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"model {model.version}: {name} failed its integrity check: {error}"
    )


def check_served_file(model: ScoringModel, name: str) -> None:
    """ModelUnavailableError if ``name`` of this version was found altered (no read: cheap).

    For readers that keep what they built from a file (a parsed booster...): asked before
    each use, it makes them refuse the file as :func:`served_file` does.
    """
    refused = _altered_files.get((model.folder, name))
    if refused is not None:
        raise refused


def served_file(model: ScoringModel, name: str) -> bytes:
    """A file of the model version, checked against its recorded sha256 (503 if it fails).

    A file found altered is refused (for ``model.onnx``: the whole version, by every
    provider of the process) until a read or a provider's look finds it intact again.
    """
    key = (model.folder, name)
    try:
        data = model.read_file(name)
    except ModelIntegrityError as error:
        log.error("model %s refused: %s", model.version, error)
        refusal = _refusal(model, name, error)
        _altered_files[key] = refusal
        raise refusal from error
    except OSError as error:
        raise ModelUnavailableError(f"model {model.version}: cannot read {name}") from error
    _altered_files.pop(key, None)
    return data
