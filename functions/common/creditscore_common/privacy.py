"""What may be published about reference clients: the one home of the privacy rules.

The reference clients are real people. Every aggregate about them, served by the client
function (``compare.py``) or written by training (``reference_stats.json``), follows these
rules:

* No count from 1 to 4 is ever published: such a cell is ``null`` (suppressed). Zero is
  published: an empty bin says nothing about anyone.
* A published table's total is known to the reader (a class size, a group size), so a single
  hidden cell could be recovered by subtraction: when a series has exactly one small cell,
  its smallest visible non-zero cell is hidden with it (complementary suppression).
* Series that share their cells (the classes of one histogram, published beside their sum)
  hide a cell in every series as soon as one series hides it: otherwise "all" minus the
  other class would give it back.
* A group must hold at least :data:`MIN_GROUP_SIZE` clients and :data:`MIN_CLASS_SIZE` of
  each class before anything about it is computed.
* Figures that could repeat one client's exact value (a median of few clients) are rounded
  to :data:`MEDIAN_DIGITS` significant digits.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: Smallest count published; 1-4 are suppressed.
MIN_CELL_COUNT = 5
#: Smallest group (reference clients after the filters) a comparison is computed on.
MIN_GROUP_SIZE = 100
#: Smallest number of clients of each class (repaid, defaulted) in a group.
MIN_CLASS_SIZE = 20
#: Significant digits of a published median: a neighbourhood, not one client's figure.
MEDIAN_DIGITS = 3
#: Significant digits of other published floats (values, edges, shares, percentiles).
FLOAT_DIGITS = 6


def is_small(count: int) -> bool:
    """Whether a count may not be published (1 to 4 clients)."""
    return 0 < count < MIN_CELL_COUNT


def hidden_cells(series: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Cells to hide in every one of ``series`` (rows) that share their cells (columns).

    Each series is a table whose total the reader knows. In each, the cells of 1-4 clients
    are hidden and, when exactly one is, the smallest visible non-zero cell of that series
    too. A cell hidden in one series is then hidden in all of them (so in their sum too);
    and if that still leaves a single hidden cell, the smallest visible non-zero one joins
    it. A single series (one row or a flat table) gets exactly the first rule.
    """
    table = np.asarray(series, dtype=np.int64)
    table = table.reshape(1, -1) if table.ndim < 2 else table.reshape(table.shape[0], -1)
    hidden = (table > 0) & (table < MIN_CELL_COUNT)
    for row, row_hidden in zip(table, hidden, strict=True):
        if int(row_hidden.sum()) == 1:
            visible = np.flatnonzero(row >= MIN_CELL_COUNT)
            if visible.size:
                row_hidden[visible[np.argmin(row[visible])]] = True
    columns = np.asarray(hidden.any(axis=0), dtype=np.bool_)
    if int(columns.sum()) == 1:
        totals = table.sum(axis=0)
        visible = np.flatnonzero(~columns & (totals > 0))
        if visible.size:
            columns[visible[np.argmin(totals[visible])]] = True
    return columns


def published(counts: npt.ArrayLike, hidden: npt.NDArray[np.bool_]) -> list[int | None]:
    """``counts`` for JSON, None where ``hidden``."""
    flat = np.asarray(counts, dtype=np.int64).ravel()
    return [None if h else int(c) for c, h in zip(flat.tolist(), hidden.tolist(), strict=True)]


def suppress_small(counts: npt.ArrayLike) -> list[int | None]:
    """Counts fit for publication: 1-4 become None, plus one more if only one was hidden.

    ``counts`` are the cells of one table whose total is known to the reader (a class's
    histogram and its missing count, or a 2-D grid, flattened). A single suppressed cell
    could be recovered by subtraction, so the smallest visible non-zero cell goes with it.
    """
    flat = np.asarray(counts, dtype=np.int64).ravel()
    return published(flat, hidden_cells(flat))


def round_significant(value: float, digits: int = FLOAT_DIGITS) -> float | None:
    """``value`` to ``digits`` significant digits; None (JSON null) for NaN or infinity."""
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")
