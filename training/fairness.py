"""Fairness of the served decisions, by gender, age band and family status.

Gender is not a model input (``features.PROTECTED_COLUMNS``); age and family status are.
Whether the decisions still treat groups differently is measured on the chosen model's
out-of-fold probabilities (each reference client scored by a model that did not see it) at
the served threshold, a client being approved when ``probability < threshold``:

- ``approval_rate``: approved clients / clients;
- ``default_rate_approved``: defaulters among the approved / approved clients;
- ``false_positive_rate``: good clients refused / good clients;
- ``false_negative_rate``: defaulters approved / defaulters;
- ``true_positive_rate``: defaulters refused / defaulters (``1 - false_negative_rate``).

Per dimension, the demographic-parity ratio is the lowest approval rate over the highest
(below :data:`FOUR_FIFTHS`, the "four-fifths rule" of disparate impact, it is flagged), and
the equal-opportunity gap is the highest true-positive rate minus the lowest: how much more
often one group's defaulters are caught than another's.

A group of fewer than :data:`MIN_GROUP_SIZE` clients shows its size and nothing else: its
rates (and the counts they come from) are null, and it takes no part in the ratio or the gap,
as a rate over a handful of clients says nothing and comes close to describing individuals.
Every reference client falls in exactly one group of each dimension (missing values form a
group of their own), so the sizes of a dimension add up to the reference clients.

Numpy only; every figure can be checked by hand on a small table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from creditscore_common.features import DAYS_PER_YEAR, as_float

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]
Labels = npt.NDArray[np.object_]

#: Below this many clients, a group shows its size only.
MIN_GROUP_SIZE = 50
#: The four-fifths rule: a parity ratio below it is flagged.
FOUR_FIFTHS = 0.8
#: The group of a missing value (age band, family status).
UNKNOWN = "unknown"
#: Gender levels other than F and M (XNA, missing).
OTHER = "other"
#: Age bands: (label, upper bound in years, excluded); the last one is open.
AGE_BANDS: tuple[tuple[str, float], ...] = (
    ("< 30", 30.0),
    ("30–45", 45.0),
    ("45–60", 60.0),
    ("≥ 60", math.inf),
)

DECISION_RULE = "approved when probability < threshold"


def small_groups_rule(min_group_size: int = MIN_GROUP_SIZE) -> str:
    """What happens to small groups, in one sentence (recorded with the figures)."""
    return (
        f"groups of fewer than {min_group_size} clients: size shown, rates null, "
        "left out of the parity ratio and the equal-opportunity gap"
    )


def _texts(values: Any, n_rows: int) -> Labels:
    if values is None:
        return np.full(n_rows, None, dtype=object)
    return np.asarray(values, dtype=object).reshape(n_rows)


def gender_groups(values: Any, n_rows: int) -> Labels:
    """``F``, ``M``, or :data:`OTHER` for any other value (XNA, missing)."""
    texts = _texts(values, n_rows)
    return np.array([v if v in ("F", "M") else OTHER for v in texts], dtype=object)


def age_band_groups(days_birth: Any, n_rows: int) -> Labels:
    """The age band of each client (age = -DAYS_BIRTH / 365.25), :data:`UNKNOWN` if missing."""
    age = -as_float(days_birth, n_rows) / DAYS_PER_YEAR
    uppers = np.array([upper for _, upper in AGE_BANDS[:-1]])
    band = np.searchsorted(uppers, age, side="right")  # age 30.0 falls in "30–45"
    labels = np.array([label for label, _ in AGE_BANDS], dtype=object)
    return np.where(np.isfinite(age), labels[band], UNKNOWN)


def level_groups(values: Any, n_rows: int) -> Labels:
    """A category's own levels, :data:`UNKNOWN` where it is missing (None, NaN, empty)."""
    texts = _texts(values, n_rows)
    return np.array([v if isinstance(v, str) and v else UNKNOWN for v in texts], dtype=object)


@dataclass(frozen=True)
class Dimension:
    """A way to split the reference clients: its raw column and the group of each value."""

    name: str
    column: str
    groups_of: Callable[[Any, int], Labels]
    #: Groups in display order; None: by decreasing size (ties by name).
    order: tuple[str, ...] | None = None


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("gender", "CODE_GENDER", gender_groups, ("F", "M", OTHER)),
    Dimension(
        "age_band",
        "DAYS_BIRTH",
        age_band_groups,
        (*(label for label, _ in AGE_BANDS), UNKNOWN),
    ),
    Dimension("family_status", "NAME_FAMILY_STATUS", level_groups),
)


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def group_figures(
    y_true: IntArray, approved: npt.NDArray[np.bool_], min_group_size: int = MIN_GROUP_SIZE
) -> dict[str, Any]:
    """Size, counts and rates of one group (only its size under ``min_group_size``)."""
    y = np.asarray(y_true) == 1
    ok = np.asarray(approved, dtype=bool)
    n = int(y.size)
    if n < min_group_size:
        return {
            "n": n,
            "n_approved": None,
            "n_defaulted": None,
            "approval_rate": None,
            "default_rate_approved": None,
            "false_positive_rate": None,
            "false_negative_rate": None,
            "true_positive_rate": None,
        }
    defaulters, good = int(y.sum()), int((~y).sum())
    n_approved = int(ok.sum())
    defaulted_approved = int((ok & y).sum())
    good_refused = int((~ok & ~y).sum())
    return {
        "n": n,
        "n_approved": n_approved,
        "n_defaulted": defaulters,
        "approval_rate": n_approved / n,
        "default_rate_approved": _share(defaulted_approved, n_approved),
        "false_positive_rate": _share(good_refused, good),
        "false_negative_rate": _share(defaulted_approved, defaulters),
        "true_positive_rate": _share(defaulters - defaulted_approved, defaulters),
    }


def _extremes(rows: list[dict[str, Any]], key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The rows with the lowest and the highest ``key`` (None with fewer than 2 defined)."""
    known = [row for row in rows if row[key] is not None]
    if len(known) < 2:
        return None
    return min(known, key=lambda r: r[key]), max(known, key=lambda r: r[key])


def dimension_figures(
    groups: Labels,
    y_true: IntArray,
    probability: FloatArray,
    threshold: float,
    order: tuple[str, ...] | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """Every group's figures, the demographic-parity ratio and the equal-opportunity gap.

    Groups come in ``order`` (others after it, by name), or by decreasing size with
    :data:`UNKNOWN` last.
    """
    labels = np.asarray(groups, dtype=object)
    y = np.asarray(y_true)
    approved = np.asarray(probability, dtype=np.float64) < threshold
    present = set(labels.tolist())
    if order is None:
        names = sorted(present, key=lambda g: (g == UNKNOWN, -int(np.sum(labels == g)), g))
    else:
        names = [g for g in order if g in present] + sorted(present - set(order))
    rows = []
    for name in names:
        inside = labels == name
        rows.append({"group": name, **group_figures(y[inside], approved[inside], min_group_size)})
    parity = _extremes(rows, "approval_rate")
    ratio = None
    if parity is not None and parity[1]["approval_rate"] > 0:
        ratio = parity[0]["approval_rate"] / parity[1]["approval_rate"]
    opportunity = _extremes(rows, "true_positive_rate")
    return {
        "groups": rows,
        "parity_ratio": ratio,
        "lowest_approval": parity[0]["group"] if parity else None,
        "highest_approval": parity[1]["group"] if parity else None,
        "below_four_fifths": None if ratio is None else ratio < FOUR_FIFTHS,
        "equal_opportunity_gap": (
            opportunity[1]["true_positive_rate"] - opportunity[0]["true_positive_rate"]
            if opportunity
            else None
        ),
    }


def fairness_report(
    columns: Mapping[str, Any],
    y_true: IntArray,
    probability: FloatArray,
    threshold: float,
    dimensions: tuple[Dimension, ...] = DIMENSIONS,
    min_group_size: int = MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """``metadata.json["fairness"]``: every dimension's groups, parity ratio and gap."""
    n_rows = int(np.size(y_true))
    if np.size(probability) != n_rows:
        raise ValueError("one probability per reference client is needed")
    return {
        "predictions": "out-of-fold probabilities of the chosen model",
        "threshold": float(threshold),
        "decision_rule": DECISION_RULE,
        "min_group_size": min_group_size,
        "four_fifths": FOUR_FIFTHS,
        "small_groups": small_groups_rule(min_group_size),
        "n_clients": n_rows,
        "dimensions": {
            d.name: {
                "column": d.column,
                **dimension_figures(
                    d.groups_of(columns.get(d.column), n_rows),
                    y_true,
                    probability,
                    threshold,
                    d.order,
                    min_group_size,
                ),
            }
            for d in dimensions
        },
    }
