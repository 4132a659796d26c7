"""The held-out validation set: a fixed, versioned split of the reference clients.

No training run fits on these clients (features, cross-validation, threshold, calibration,
final fit, statistics: ``creditscore train`` drops them first), so that ``creditscore
promote`` can score a candidate and the active version on the very same unseen clients.

Rule ``sha256-id-mod-100`` (version 1): a reference client is held out when the first 8
bytes of ``sha256(str(SK_ID_CURR))``, read as a big-endian integer, modulo 100 are below
:data:`HOLDOUT_PERCENT` (10). It depends on the client id alone: the same client is held out
by every run, whatever the file's order or the other clients, and a new file keeps its old
clients on the same side.

The fingerprint is the sha256 of the sorted holdout ids and of their rows as the models read
them (the values after validation and the plausibility rules, column by column, ids sorted):
a holdout client whose application or outcome changed, one more or one fewer, changes it;
a change to the training clients does not. A model version records the rule, its version,
the counts and the fingerprint in ``metadata.json["holdout"]``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from training.data import TRAIN_FILE, ApplicationTable

HOLDOUT_RULE = "sha256-id-mod-100"
HOLDOUT_RULE_VERSION = 1
HOLDOUT_PERCENT = 10


class HoldoutMismatchError(ValueError):
    """The holdout recomputed from the data is not the one a model version recorded."""


@dataclass(frozen=True)
class HoldoutSplit:
    """The reference clients a run fits on, the held-out ones, and the holdout's record."""

    training: ApplicationTable
    holdout: ApplicationTable
    record: dict[str, Any]


def holdout_mask(
    ids: npt.NDArray[np.int64], percent: int = HOLDOUT_PERCENT
) -> npt.NDArray[np.bool_]:
    """True for the clients the rule holds out (one sha256 per id; about 1 s per million)."""
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(str(int(i)).encode()).digest()[:8], "big") % 100
            for i in ids
        ),
        dtype=np.int64,
        count=len(ids),
    )
    return buckets < percent


def subset(table: ApplicationTable, mask: npt.NDArray[np.bool_]) -> ApplicationTable:
    """The rows of ``table`` where ``mask`` is True (same path and data-quality record)."""
    return ApplicationTable(
        path=table.path,
        ids=table.ids[mask],
        target=None if table.target is None else table.target[mask],
        columns={name: values[mask] for name, values in table.columns.items()},
        quality=table.quality,
    )


def _canonical_numbers(values: npt.NDArray[Any]) -> bytes:
    numbers = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 becomes 0.0
    return np.where(np.isnan(numbers), np.nan, numbers).astype("<f8").tobytes()


def fingerprint(table: ApplicationTable) -> tuple[str, str]:
    """``(ids_sha256, fingerprint)`` of a table: its sorted ids, then ids and rows.

    Rows are hashed column by column in name order, the rows in id order, missing values
    canonical: the same clients with the same values give the same fingerprint whatever
    the file's row or column order.
    """
    order = np.argsort(table.ids, kind="stable")
    ids = table.ids[order].astype("<i8").tobytes()
    ids_digest = hashlib.sha256(ids).hexdigest()
    digest = hashlib.sha256(ids)
    digest.update(b"TARGET\0")
    if table.target is not None:
        digest.update(table.target[order].astype("<i1").tobytes())
    for name in sorted(table.columns):
        values = table.columns[name][order]
        digest.update(name.encode() + b"\0")
        if values.dtype == object:
            digest.update(json.dumps([None if v is None else str(v) for v in values]).encode())
        else:
            digest.update(_canonical_numbers(values))
    return ids_digest, digest.hexdigest()


def split_reference(reference: ApplicationTable) -> HoldoutSplit:
    """Split the reference clients by the rule; record the holdout (``metadata["holdout"]``)."""
    mask = holdout_mask(reference.ids)
    holdout = subset(reference, mask)
    ids_digest, full_digest = fingerprint(holdout)
    record: dict[str, Any] = {
        "rule": HOLDOUT_RULE,
        "rule_version": HOLDOUT_RULE_VERSION,
        "percent": HOLDOUT_PERCENT,
        "description": (
            f"reference clients whose sha256(str(SK_ID_CURR)) first 8 bytes mod 100 < "
            f"{HOLDOUT_PERCENT}; never fitted on"
        ),
        "file": TRAIN_FILE,
        "n_clients": holdout.n_rows,
        "n_defaulted": int(holdout.target.sum()) if holdout.target is not None else None,
        "ids_sha256": ids_digest,
        "fingerprint": full_digest,
    }
    return HoldoutSplit(training=subset(reference, ~mask), holdout=holdout, record=record)


def check_holdout(recorded: Mapping[str, Any] | None, split: HoldoutSplit, where: str) -> None:
    """Refuse a holdout that is not the one ``recorded`` (HoldoutMismatchError names why).

    ``where`` names the model version in the message.
    """
    if not recorded:
        raise HoldoutMismatchError(
            f"{where} records no holdout (trained before the held-out set existed): retrain it"
        )
    if (recorded.get("rule"), recorded.get("rule_version")) != (
        HOLDOUT_RULE,
        HOLDOUT_RULE_VERSION,
    ):
        raise HoldoutMismatchError(
            f"{where} used holdout rule {recorded.get('rule')} v{recorded.get('rule_version')}, "
            f"this code rule {HOLDOUT_RULE} v{HOLDOUT_RULE_VERSION}: retrain it"
        )
    found = split.record
    if recorded.get("fingerprint") != found["fingerprint"]:
        same_ids = recorded.get("ids_sha256") == found["ids_sha256"]
        what = (
            "the same clients with other values"
            if same_ids
            else f"other clients ({found['n_clients']} here, {recorded.get('n_clients')} then)"
        )
        raise HoldoutMismatchError(
            f"the holdout of {split.holdout.path} is not the one {where} recorded: {what} "
            f"(fingerprint {found['fingerprint'][:12]}, recorded "
            f"{str(recorded.get('fingerprint'))[:12]}); pass the data the candidate was trained "
            "on with --data"
        )
