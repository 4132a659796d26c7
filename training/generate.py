"""Synthetic Home Credit clients, faithful to the real ``application_train.csv``.

The generator lets the whole pipeline run without the Kaggle files. Every column follows the
reference summary in :mod:`creditscore_common.reference_schema` (kind, missing rate,
quantiles, levels), and the columns are tied together the way they are in the real table:
hidden Gaussian factors (age, wealth, region, building size, ...) drive correlated scores,
each score is turned into a column through the reference quantile function (a Gaussian
copula), and a few columns are built from others (family size from children and partner,
goods price from the credit, social-circle defaults from observations, ...).

The default risk is a known function of the values written in the file only (missingness
included), so a model trained on the file can approach the oracle. Its intercept and scale are
solved on the sample itself so that the default rate is the reference 8.08 % and the expected
AUC of the true probability is 0.78. The new clients differ from the reference clients on a few
documented columns (``drift_manifest.json``).

This module is the entry point (:func:`generate`) and writes the files; the clients are
drawn by :mod:`training.generation`, one module per block of columns (identity, employment,
credit, building, documents), the default risk (:mod:`training.generation.risk`) and the
documented drift (:mod:`training.generation.drift`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
from scipy.special import expit
from tqdm import tqdm

from creditscore_common.reference_schema import (
    ID_COLUMN,
    TARGET_COLUMN,
    ColumnSpec,
    ReferenceSchema,
    load_schema,
)
from training.data import NEW_CLIENTS_FILE, TRAIN_FILE, TRUTH_FILE
from training.generation.clients import sample_clients
from training.generation.drift import DRIFTS, apply_drift
from training.generation.risk import calibrate, draw_defaults, risk_score, roc_auc
from training.generation.sampler import FloatArray, _Table

logger = logging.getLogger(__name__)

MANIFEST_FILE = "drift_manifest.json"
OUTPUT_FILES = (TRAIN_FILE, NEW_CLIENTS_FILE, TRUTH_FILE, MANIFEST_FILE)
TRUTH_COLUMN = "TRUE_PROBABILITY"

#: The real IDs: 307,511 + 48,744 clients numbered 100001..456255 across both files.
FIRST_ID = 100_001
REAL_ID_COUNT = 356_255
MIN_TRAIN = 100


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate` wrote and the headline facts of the generated sample."""

    out_dir: Path
    n_train: int
    n_new: int
    seed: int
    default_rate: float
    oracle_auc: float
    seconds: float
    drifted_columns: tuple[str, ...]


# -- writing ----------------------------------------------------------------------------------


def _arrow_column(t: _Table, spec: ColumnSpec) -> pa.Array:
    if spec.is_categorical:
        codes = t.cat[spec.name]
        missing = codes < 0
        indices = pa.array(np.where(missing, 0, codes).astype(np.int16), mask=missing)
        dictionary = pa.array(list(spec.levels), type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
    values = t.num[spec.name]
    missing = np.isnan(values)
    if spec.kind == "float":
        return pa.array(values, mask=missing, type=pa.float64())
    whole = np.where(missing, 0, values).astype(np.int64)
    return pa.array(whole, mask=missing, type=pa.int8() if spec.kind == "flag" else pa.int64())


def _arrow_table(
    t: _Table,
    schema: ReferenceSchema,
    ids: FloatArray | npt.NDArray[np.int64],
    target: npt.NDArray[np.int8] | None,
) -> pa.Table:
    columns: dict[str, pa.Array] = {ID_COLUMN: pa.array(np.asarray(ids, dtype=np.int64))}
    if target is not None:
        columns[TARGET_COLUMN] = pa.array(target, type=pa.int8())
    for name in schema.application_names:
        columns[name] = _arrow_column(t, schema[name])
    return pa.table(columns)


def _write_csv(table: pa.Table, path: Path) -> None:
    """CSV with a bare header line like the Kaggle files (Arrow would quote the names)."""
    with path.open("wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))


def _write_json(content: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n")


def _write_all(
    out_dir: Path,
    writers: Sequence[tuple[str, Callable[[Path], None]]],
    written: Callable[[str], None],
) -> None:
    """Write every file into a fresh folder beside ``out_dir``, then move them in place.

    A failure part-way leaves ``out_dir`` as it was: the half-written folder is removed.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        # Arrow formats CSV mostly without the GIL, so two files are written at once; leaving
        # the pool waits for every writer, so nothing writes into the folder once it is removed.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(write, tmp / filename) for filename, write in writers]
            for (filename, _), future in zip(writers, futures, strict=True):
                future.result()
                written(filename)
        out_dir.mkdir(parents=True, exist_ok=True)
        for filename, _ in writers:
            os.replace(tmp / filename, out_dir / filename)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the entry point --------------------------------------------------------------------------


def generate(
    out_dir: Path,
    n_train: int = 307_511,
    n_new: int = 48_744,
    seed: int = 0,
    progress: bool = False,
) -> GenerationSummary:
    """Generate synthetic reference and new clients and write them into ``out_dir``.

    Writes ``application_train.csv`` (with TARGET), ``application_test.csv`` (new clients,
    drifted), ``truth.csv`` (the true default probability of every client) and
    ``drift_manifest.json``. The same seed gives byte-identical files.
    """
    if n_train < MIN_TRAIN:
        raise ValueError(f"n_train must be at least {MIN_TRAIN}, got {n_train}")
    if n_new < 0:
        raise ValueError(f"n_new must be >= 0, got {n_new}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    schema = load_schema()
    rng = np.random.default_rng(seed)
    n = n_train + n_new
    with tqdm(total=2 + len(OUTPUT_FILES), desc="generate", disable=not progress) as bar:
        bar.set_postfix_str("clients")
        pool = sample_clients(schema, rng, n)
        train = pool.take(np.arange(n_train))
        new = pool.take(np.arange(n_train, n))
        apply_drift(new, schema, rng)
        bar.update()

        bar.set_postfix_str("risk")
        x_train = risk_score(train, schema)
        scale, intercept = calibrate(x_train, schema.target_rate)
        p_train = np.round(expit(intercept + scale * x_train), 8)
        p_new = np.round(expit(intercept + scale * risk_score(new, schema)), 8)
        target = draw_defaults(p_train, rng)
        # Real IDs interleave the two files; both files are sorted by ID.
        id_pool = max(n, REAL_ID_COUNT)
        ids = FIRST_ID + rng.choice(id_pool, size=n, replace=False).astype(np.int64)
        train_ids, new_ids = np.sort(ids[:n_train]), np.sort(ids[n_train:])
        bar.update()

        manifest = {
            "seed": seed,
            "n_train": n_train,
            "n_new": n_new,
            "drift": [d.as_json() for d in DRIFTS],
        }
        truth = pa.table(
            {
                ID_COLUMN: pa.array(np.concatenate([train_ids, new_ids])),
                TRUTH_COLUMN: pa.array(np.concatenate([p_train, p_new])),
            }
        )

        def written(filename: str) -> None:
            bar.update()
            bar.set_postfix_str(filename)

        writers: list[tuple[str, Callable[[Path], None]]] = [
            (TRAIN_FILE, lambda p: _write_csv(_arrow_table(train, schema, train_ids, target), p)),
            (NEW_CLIENTS_FILE, lambda p: _write_csv(_arrow_table(new, schema, new_ids, None), p)),
            (TRUTH_FILE, lambda p: _write_csv(truth, p)),
            (MANIFEST_FILE, lambda p: _write_json(manifest, p)),
        ]
        bar.set_postfix_str("writing")
        _write_all(out_dir, writers, written)

    summary = GenerationSummary(
        out_dir=out_dir,
        n_train=n_train,
        n_new=n_new,
        seed=seed,
        default_rate=float(target.mean()),
        oracle_auc=roc_auc(target, p_train),
        seconds=time.perf_counter() - started,
        drifted_columns=tuple(d.column for d in DRIFTS),
    )
    logger.info(
        "generated %d reference and %d new clients in %s (default rate %.4f, oracle AUC %.4f, "
        "scale %.3f) in %.1f s",
        n_train,
        n_new,
        out_dir,
        summary.default_rate,
        summary.oracle_auc,
        scale,
        summary.seconds,
    )
    return summary
