"""Numbers as the exploratory report writes them (the page and the figures' texts)."""

from __future__ import annotations

import math


def share(value: float, digits: int = 1) -> str:
    """A share as a percentage: 0.0831 -> "8.3%"; shares below 0.1% keep two decimals."""
    if not math.isfinite(value):
        return "—"
    if 0 < abs(value) < 0.001:
        return f"{value:.2%}"
    return f"{value:.{digits}%}"


def number(value: float, digits: int = 3) -> str:
    """A statistic or a value: 3 significant digits, thousands separated, "—" when unknown."""
    if not math.isfinite(value):
        return "—"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"


def limit(value: float) -> str:
    """A value that must be told apart from its neighbours (a clipping limit): 4 digits."""
    if not math.isfinite(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def count(value: int) -> str:
    """A count of clients with thousands separators."""
    return f"{value:,}"


def p_value(value: float) -> str:
    """A p-value; below 1e-300 it is written as such rather than as 0."""
    if not math.isfinite(value):
        return "—"
    if value < 1e-300:
        return "< 1e-300"
    return f"{value:.2g}" if value < 0.01 else f"{value:.3f}"
