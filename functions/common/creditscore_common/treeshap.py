"""Exact TreeSHAP through LightGBM's C library, without the lightgbm Python package.

The lightgbm package imports scipy (about 110 MB), which alone would push the explain
function past Lambda's 250 MB limit. Its native library ``lib_lightgbm.so`` needs nothing but
numpy's buffers and OpenMP's runtime, so this module loads it with ctypes and calls the two
entry points the explanations need: contributions (``C_API_PREDICT_CONTRIB``, exact TreeSHAP,
the very code behind ``Booster.predict(x, pred_contrib=True)``) and raw scores (log-odds).

The library is found through the import system (``find_spec("lightgbm")``) without importing
the package. A ``lib/libgomp.so.1`` vendored beside the function code is loaded first: the
Lambda image (Amazon Linux 2023) may not have OpenMP's runtime, which lib_lightgbm.so needs.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

LIBRARY_NAME: Final = "lib_lightgbm.so"
OPENMP_RUNTIME: Final = Path("lib") / "libgomp.so.1"

# Constants of LightGBM's c_api.h.
C_API_DTYPE_FLOAT32: Final = 0
C_API_DTYPE_FLOAT64: Final = 1
C_API_PREDICT_RAW_SCORE: Final = 1
C_API_PREDICT_CONTRIB: Final = 3
_ROW_MAJOR: Final = 1
_ALL_ITERATIONS: Final = -1
#: One thread: a function explains one client at a time, and OpenMP's thread pool start-up
#: would cost more than it saves; quiet, because LightGBM writes warnings to stdout.
PREDICT_PARAMETERS: Final = "num_threads=1 verbosity=-1"

FloatMatrix = npt.NDArray[np.float32] | npt.NDArray[np.float64]


class LightGBMLibraryError(RuntimeError):
    """lib_lightgbm.so cannot be found or loaded, or one of its calls failed."""


_library: ctypes.CDLL | None = None
_library_lock = threading.Lock()


def find_library() -> Path:
    """Path of lib_lightgbm.so inside the installed lightgbm package (not imported)."""
    spec = importlib.util.find_spec("lightgbm")
    locations = [] if spec is None else list(spec.submodule_search_locations or [])
    for location in locations:
        candidate = Path(location) / "lib" / LIBRARY_NAME
        if candidate.is_file():
            return candidate
    raise LightGBMLibraryError(
        f"{LIBRARY_NAME} not found: install lightgbm (its Python dependencies are not needed)"
    )


def find_openmp_runtime() -> Path | None:
    """A vendored ``lib/libgomp.so.1`` in any sys.path entry (the function's code root)."""
    for entry in sys.path:
        candidate = Path(entry or ".") / OPENMP_RUNTIME
        if candidate.is_file():
            return candidate
    return None


def _declare(lib: ctypes.CDLL) -> None:
    """Argument types of the entry points used, so ctypes converts and checks them."""
    handle_p = ctypes.POINTER(ctypes.c_void_p)
    lib.LGBM_GetLastError.restype = ctypes.c_char_p
    lib.LGBM_GetLastError.argtypes = []
    lib.LGBM_BoosterLoadModelFromString.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        handle_p,
    ]
    lib.LGBM_BoosterFree.argtypes = [ctypes.c_void_p]
    lib.LGBM_BoosterGetNumFeature.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.LGBM_BoosterGetNumClasses.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.LGBM_BoosterPredictForMat.argtypes = [
        ctypes.c_void_p,  # handle
        ctypes.c_void_p,  # data
        ctypes.c_int,  # data_type
        ctypes.c_int32,  # nrow
        ctypes.c_int32,  # ncol
        ctypes.c_int,  # is_row_major
        ctypes.c_int,  # predict_type
        ctypes.c_int,  # start_iteration
        ctypes.c_int,  # num_iteration
        ctypes.c_char_p,  # parameter
        ctypes.POINTER(ctypes.c_int64),  # out_len
        ctypes.POINTER(ctypes.c_double),  # out_result
    ]
    for name in (
        "LGBM_BoosterLoadModelFromString",
        "LGBM_BoosterFree",
        "LGBM_BoosterGetNumFeature",
        "LGBM_BoosterGetNumClasses",
        "LGBM_BoosterPredictForMat",
    ):
        getattr(lib, name).restype = ctypes.c_int


def load_library() -> ctypes.CDLL:
    """lib_lightgbm.so, loaded once per process (after a vendored OpenMP runtime, if any)."""
    global _library
    with _library_lock:
        if _library is None:
            openmp = find_openmp_runtime()
            try:
                if openmp is not None:
                    # RTLD_GLOBAL: lib_lightgbm.so's "NEEDED libgomp.so.1" then resolves to
                    # this copy (its SONAME is libgomp.so.1) instead of a missing system one.
                    ctypes.CDLL(str(openmp), mode=ctypes.RTLD_GLOBAL)
                    log.debug("OpenMP runtime loaded from %s", openmp)
                lib = ctypes.CDLL(str(find_library()))
            except OSError as error:
                raise LightGBMLibraryError(f"cannot load {LIBRARY_NAME}: {error}") from error
            _declare(lib)
            _library = lib
        return _library


def _check(lib: ctypes.CDLL, status: int) -> None:
    """Turn a non-zero status of a C call into an exception with LightGBM's message."""
    if status != 0:
        message = lib.LGBM_GetLastError()
        text = message.decode("utf-8", "replace") if message else "unknown error"
        raise LightGBMLibraryError(f"LightGBM: {text}")


class TreeShapBooster:
    """A native LightGBM booster (binary classifier) for contributions and raw scores."""

    def __init__(self, model_text: str) -> None:
        """Create the booster from the text of a ``model.txt``."""
        self._lib = load_library()
        self._handle: ctypes.c_void_p | None = None
        handle = ctypes.c_void_p()
        n_iterations = ctypes.c_int(0)
        _check(
            self._lib,
            self._lib.LGBM_BoosterLoadModelFromString(
                model_text.encode("utf-8"), ctypes.byref(n_iterations), ctypes.byref(handle)
            ),
        )
        self._handle = handle
        self.n_iterations = n_iterations.value
        self.n_features = self._get_int(self._lib.LGBM_BoosterGetNumFeature)
        n_classes = self._get_int(self._lib.LGBM_BoosterGetNumClasses)
        if n_classes != 1:
            self.close()
            raise LightGBMLibraryError(f"expected a binary model, got {n_classes} classes")

    @classmethod
    def from_file(cls, path: Path) -> TreeShapBooster:
        """Create the booster from a ``model.txt`` file."""
        return cls(path.read_text(encoding="utf-8"))

    def _get_int(self, function: Any) -> int:
        out = ctypes.c_int(0)
        _check(self._lib, function(self._live_handle(), ctypes.byref(out)))
        return out.value

    def _live_handle(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise LightGBMLibraryError("the booster was closed")
        return self._handle

    def _predict(self, rows: FloatMatrix, predict_type: int, width: int) -> npt.NDArray[np.float64]:
        matrix = np.asarray(rows)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.dtype not in (np.float32, np.float64):
            matrix = matrix.astype(np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.n_features:
            raise ValueError(
                f"expected rows of {self.n_features} features, got shape {matrix.shape}"
            )
        # The C side reads the buffer as packed rows: a view or a transposed array would
        # silently give wrong numbers.
        matrix = np.ascontiguousarray(matrix)
        data_type = C_API_DTYPE_FLOAT32 if matrix.dtype == np.float32 else C_API_DTYPE_FLOAT64
        n_rows = matrix.shape[0]
        out = np.empty(n_rows * width, dtype=np.float64)
        out_len = ctypes.c_int64(0)
        _check(
            self._lib,
            self._lib.LGBM_BoosterPredictForMat(
                self._live_handle(),
                matrix.ctypes.data,
                data_type,
                n_rows,
                matrix.shape[1],
                _ROW_MAJOR,
                predict_type,
                0,
                _ALL_ITERATIONS,
                PREDICT_PARAMETERS.encode(),
                ctypes.byref(out_len),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            ),
        )
        if out_len.value != out.size:
            raise LightGBMLibraryError(
                f"LightGBM wrote {out_len.value} values, {out.size} expected"
            )
        return out.reshape(n_rows, width)

    def contributions(self, rows: FloatMatrix) -> npt.NDArray[np.float64]:
        """Exact TreeSHAP values, shape (n, n_features + 1); the last column is the base value."""
        return self._predict(rows, C_API_PREDICT_CONTRIB, self.n_features + 1)

    def raw_scores(self, rows: FloatMatrix) -> npt.NDArray[np.float64]:
        """Raw scores (log-odds of default), shape (n,)."""
        return self._predict(rows, C_API_PREDICT_RAW_SCORE, 1)[:, 0]

    def close(self) -> None:
        """Free the native booster (idempotent)."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            self._lib.LGBM_BoosterFree(handle)

    def __enter__(self) -> TreeShapBooster:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The C heap is not tracked by Python's collector: free it with the object.
        self.close()
