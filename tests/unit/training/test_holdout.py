"""The held-out validation set: a fixed rule on the client id, and its fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from training.data import TRAIN_FILE, ApplicationTable, load_applications
from training.holdout import (
    HOLDOUT_PERCENT,
    HoldoutMismatchError,
    check_holdout,
    fingerprint,
    holdout_mask,
    split_reference,
    subset,
)


@pytest.fixture(scope="module")
def reference(small_data_dir: Path) -> ApplicationTable:
    return load_applications(small_data_dir / TRAIN_FILE, with_target=True)


def test_the_rule_is_the_documented_hash_of_the_id() -> None:
    ids = np.array([100002, 100003, 456255, 7], dtype=np.int64)
    expected = [
        int.from_bytes(hashlib.sha256(str(i).encode()).digest()[:8], "big") % 100 < 10 for i in ids
    ]
    assert holdout_mask(ids).tolist() == expected


def test_about_one_client_in_ten_whatever_the_order() -> None:
    ids = np.arange(100_000, 130_000, dtype=np.int64)
    mask = holdout_mask(ids)
    assert 0.09 < mask.mean() < 0.11 and HOLDOUT_PERCENT == 10
    shuffled = np.random.default_rng(0).permutation(ids)
    assert set(shuffled[holdout_mask(shuffled)]) == set(ids[mask])


def test_split_is_a_partition_with_its_record(reference: ApplicationTable) -> None:
    split = split_reference(reference)
    assert split.training.n_rows + split.holdout.n_rows == reference.n_rows
    assert not set(split.training.ids) & set(split.holdout.ids)
    record = split.record
    assert record["n_clients"] == split.holdout.n_rows
    assert record["n_defaulted"] == int(split.holdout.target.sum())  # type: ignore[union-attr]
    assert (record["rule"], record["rule_version"], record["percent"]) == (
        "sha256-id-mod-100", 1, 10,
    )  # fmt: skip


def test_fingerprint_follows_the_held_out_rows_only(reference: ApplicationTable) -> None:
    split = split_reference(reference)
    ids_digest, digest = fingerprint(split.holdout)
    order = np.random.default_rng(1).permutation(split.holdout.n_rows)
    shuffled = subset(split.holdout, np.ones(split.holdout.n_rows, dtype=bool))
    shuffled = type(shuffled)(
        path=shuffled.path,
        ids=shuffled.ids[order],
        target=shuffled.target[order],  # type: ignore[index]
        columns={k: v[order] for k, v in shuffled.columns.items()},
    )
    assert fingerprint(shuffled) == (ids_digest, digest)
    # One value of one held-out client: same ids, another fingerprint.
    income = split.holdout.columns["AMT_INCOME_TOTAL"].copy()
    income[0] = 1.0 if income[0] != 1.0 else 2.0
    changed = type(split.holdout)(
        path=split.holdout.path,
        ids=split.holdout.ids,
        target=split.holdout.target,
        columns={**split.holdout.columns, "AMT_INCOME_TOTAL": income},
    )
    assert fingerprint(changed)[0] == ids_digest and fingerprint(changed)[1] != digest
    # Its outcome changed: another fingerprint too.
    flipped = split.holdout.target.copy()  # type: ignore[union-attr]
    flipped[0] = 1 - flipped[0]
    outcome = type(split.holdout)(
        path=split.holdout.path, ids=split.holdout.ids, target=flipped,
        columns=split.holdout.columns,
    )  # fmt: skip
    assert fingerprint(outcome)[1] != digest


def test_a_change_to_training_clients_leaves_the_holdout(reference: ApplicationTable) -> None:
    split = split_reference(reference)
    income = reference.columns["AMT_INCOME_TOTAL"].copy()
    training_row = int(np.flatnonzero(~holdout_mask(reference.ids))[0])
    income[training_row] += 1000.0
    changed = type(reference)(
        path=reference.path, ids=reference.ids, target=reference.target,
        columns={**reference.columns, "AMT_INCOME_TOTAL": income},
    )  # fmt: skip
    assert split_reference(changed).record == split.record


def test_check_holdout_says_what_differs(reference: ApplicationTable) -> None:
    split = split_reference(reference)
    check_holdout(split.record, split, "model v")  # the same: no error
    with pytest.raises(HoldoutMismatchError, match="records no holdout"):
        check_holdout(None, split, "model v")
    other = {**split.record, "fingerprint": "0" * 64}
    with pytest.raises(HoldoutMismatchError, match="same clients with other values"):
        check_holdout(other, split, "model v")
    fewer = {**other, "ids_sha256": "1" * 64, "n_clients": 3}
    with pytest.raises(HoldoutMismatchError, match="other clients"):
        check_holdout(fewer, split, "model v")
    with pytest.raises(HoldoutMismatchError, match="rule"):
        check_holdout({**split.record, "rule_version": 2}, split, "model v")
