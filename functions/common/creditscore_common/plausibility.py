"""Plausibility rules: the values no real application holds, one set for training and serving.

A rule has a stable name (``amount_range``, ``days_in_past``...) and a message for people;
each numeric application column is checked by one or two of them, in order, and the first it
breaks is the one reported. The API refuses an application that breaks a rule (a 422 naming
the field and the rule: ``schemas.Application``); training and batch prediction read such a
value as missing and count it (``training.data``). Both call the same checks below, so a value
treated as missing in training is exactly a value the API would refuse.

Where the bounds come from:

- amounts (``AMT_INCOME_TOTAL``, ``AMT_CREDIT``, ``AMT_ANNUITY``, ``AMT_GOODS_PRICE``): from 0
  to :data:`REFERENCE_MAX_MULTIPLE` (100) times the largest value of the reference schema
  (``resources/application_schema.json``, a sample of the real table): generous enough for any
  real client (the full real table's largest income, 117 M, is under 100 × 2.0 M), small
  enough to refuse 1e308;
- counts: ``CNT_CHILDREN`` up to 30 and ``CNT_FAM_MEMBERS`` up to 40 (the real table's largest
  are 19 and 20); the social-circle and credit-bureau counts from 0 to 100 × the reference
  maximum; a car's age (``OWN_CAR_AGE``, years) from 0 to 120;
- ``DAYS_*`` (days before the application): at most 0 and at least 120 years back;
  ``DAYS_EMPLOYED`` may also be 365243 (no employment, the table's own marker), and an
  employment may not go back further than the birth date when both are known (the only rule
  over two fields: it is checked on values that pass their own rules);
- ``EXT_SOURCE_*``, ``REGION_POPULATION_RELATIVE`` and the normalised building columns
  (``*_AVG``, ``*_MODE``, ``*_MEDI``): between 0 and 1; region ratings 1 to 3; the hour of
  the application 0 to 23; 0/1 flags 0 or 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from creditscore_common.features import DAYS_PER_YEAR
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY, load_schema

#: No date of an application goes back further than this (age, registration, employment...).
MAX_AGE_YEARS = 120
#: The oldest DAYS_* value accepted: 120 years before the application.
OLDEST_DAY = -MAX_AGE_YEARS * DAYS_PER_YEAR
#: Amounts and most counts may reach this multiple of the reference schema's largest value.
REFERENCE_MAX_MULTIPLE = 100
#: Counts with a domain limit rather than a multiple of the reference maximum.
COUNT_LIMITS: dict[str, float] = {"CNT_CHILDREN": 30.0, "CNT_FAM_MEMBERS": 40.0}
#: A car's age in years (OWN_CAR_AGE).
MAX_CAR_AGE_YEARS = 120

EMPLOYED = "DAYS_EMPLOYED"
BIRTH = "DAYS_BIRTH"

#: Every rule: its stable name and what it asks, in words.
RULES: dict[str, str] = {
    "amount_range": f"an amount is 0 or more and at most {REFERENCE_MAX_MULTIPLE} × the "
    "largest in the reference table",
    "count_range": "a count is 0 or more and at most its limit (30 children, 40 family "
    f"members, else {REFERENCE_MAX_MULTIPLE} × the largest in the reference table)",
    "car_age_range": f"a car's age is between 0 and {MAX_CAR_AGE_YEARS} years",
    "days_in_past": "a DAYS_* value counts days before the application: 0 or less "
    f"(DAYS_EMPLOYED may also be {DAYS_EMPLOYED_ANOMALY}, no employment)",
    "days_within_120_years": f"a DAYS_* value goes back at most {MAX_AGE_YEARS} years",
    "employment_longer_than_life": "an employment does not start before the client's birth "
    "(DAYS_EMPLOYED not below DAYS_BIRTH)",
    "score_range": "an external score is between 0 and 1",
    "normalised_range": "a normalised value (region population, building) is between 0 and 1",
    "rating_range": "a region rating is 1, 2 or 3",
    "hour_range": "an hour is between 0 and 23",
    "flag_value": "a flag is 0 or 1",
}
#: The rule over two fields, and the field it treats as missing in training.
CROSS_FIELD_RULE = "employment_longer_than_life"
CROSS_FIELD_FIELDS: tuple[str, str] = (EMPLOYED, BIRTH)


@dataclass(frozen=True)
class Check:
    """One rule on one column: ``low <= value <= high``, or one of ``also``; or one of ``only``."""

    rule: str
    column: str
    low: float | None
    high: float | None
    #: Values accepted outside [low, high] (DAYS_EMPLOYED's 365243).
    also: tuple[float, ...] = ()
    #: When given, the only values accepted (a flag's 0 and 1).
    only: tuple[float, ...] = ()
    #: What the value must be, for people (names the bounds).
    message: str = ""
    #: Where the bounds come from.
    source: str = ""

    def breaks(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """True where a value breaks the check (missing values never do)."""
        if self.only:
            return ~np.isnan(values) & ~np.isin(values, self.only)
        bad = np.zeros(values.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                bad |= values < self.low
            if self.high is not None:
                bad |= values > self.high
        if self.also:
            bad &= ~np.isin(values, self.also)
        return bad

    def breaks_value(self, value: float) -> bool:
        """True when one value breaks the check (the same test as :meth:`breaks`)."""
        return bool(self.breaks(np.asarray([value], dtype=np.float64))[0])


@dataclass(frozen=True)
class Violation:
    """A rule broken by an application: the rule, the fields it names and why."""

    rule: str
    fields: tuple[str, ...]
    message: str

    @property
    def problem(self) -> str:
        """``rule: message``, as the API's 422 puts it in ``details[].problem``."""
        return f"{self.rule}: {self.message}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _range(low: float, high: float) -> str:
    return f"must be between {_number(low)} and {_number(high)}"


def _reference_max(column: str) -> float | None:
    spec = load_schema().by_name.get(column)
    if spec is None or not spec.quantiles:
        return None
    return max(spec.quantiles.values())


def _scaled_max(column: str, what: str) -> Check:
    largest = _reference_max(column)
    high = None if largest is None else REFERENCE_MAX_MULTIPLE * max(largest, 1.0)
    if high is None:
        return Check(what, column, 0.0, None, message="must be 0 or more", source="domain")
    return Check(
        what,
        column,
        0.0,
        high,
        message=f"{_range(0.0, high)} ({REFERENCE_MAX_MULTIPLE} × the largest in the "
        "reference table)",
        source=f"{REFERENCE_MAX_MULTIPLE} × the reference maximum {_number(largest or 0.0)}",
    )


def _days_checks(column: str) -> tuple[Check, ...]:
    if column == EMPLOYED:
        in_past = Check(
            "days_in_past",
            column,
            None,
            0.0,
            also=(float(DAYS_EMPLOYED_ANOMALY),),
            message="must be 0 or less (days before the application) or "
            f"{DAYS_EMPLOYED_ANOMALY} (no employment)",
            source="domain (365243: the table's marker of no employment)",
        )
    else:
        in_past = Check(
            "days_in_past",
            column,
            None,
            0.0,
            message="must be 0 or less (days before the application)",
            source="domain",
        )
    oldest = Check(
        "days_within_120_years",
        column,
        OLDEST_DAY,
        None,
        message=f"must be {_number(OLDEST_DAY)} or more (at most {MAX_AGE_YEARS} years before "
        "the application)",
        source=f"domain ({MAX_AGE_YEARS} years of {DAYS_PER_YEAR} days)",
    )
    return (in_past, oldest)


def _unit(rule: str, column: str, low: float, high: float, source: str) -> Check:
    return Check(rule, column, low, high, message=_range(low, high), source=source)


def _column_checks(column: str, kind: str) -> tuple[Check, ...]:
    """The checks of one numeric column, in the order they are tried."""
    if kind == "flag":
        flag = Check(
            "flag_value",
            column,
            0.0,
            1.0,
            only=(0.0, 1.0),
            message="must be 0 or 1",
            source="domain",
        )
        return (flag,)
    if column in ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE"):
        return (_scaled_max(column, "amount_range"),)
    if column in COUNT_LIMITS:
        return (_unit("count_range", column, 0.0, COUNT_LIMITS[column], "domain"),)
    if column.startswith(("AMT_REQ_CREDIT_BUREAU_", "OBS_", "DEF_")):
        return (_scaled_max(column, "count_range"),)
    if column == "OWN_CAR_AGE":
        high = float(MAX_CAR_AGE_YEARS)
        message = f"{_range(0.0, high)} years"
        return (Check("car_age_range", column, 0.0, high, message=message, source="domain"),)
    if column.startswith("DAYS_"):
        return _days_checks(column)
    if column.startswith("EXT_SOURCE_"):
        return (_unit("score_range", column, 0.0, 1.0, "domain (normalised score)"),)
    if column.startswith("REGION_RATING_CLIENT"):
        return (_unit("rating_range", column, 1.0, 3.0, "domain (ratings 1, 2, 3)"),)
    if column == "HOUR_APPR_PROCESS_START":
        return (_unit("hour_range", column, 0.0, 23.0, "domain (hour of the day)"),)
    if column == "REGION_POPULATION_RELATIVE" or column.endswith(("_AVG", "_MODE", "_MEDI")):
        return (_unit("normalised_range", column, 0.0, 1.0, "domain (normalised in the table)"),)
    return ()


@cache
def column_checks() -> dict[str, tuple[Check, ...]]:
    """Every numeric application column -> its checks, in order (the first broken is named)."""
    schema = load_schema()
    checks = {name: _column_checks(name, schema[name].kind) for name in schema.numeric_names}
    return {name: found for name, found in checks.items() if found}


def column_bounds(column: str) -> tuple[float | None, float | None]:
    """The (ge, le) a column's values keep to (DAYS_EMPLOYED: no le, 365243 lies above)."""
    low: float | None = None
    high: float | None = None
    for check in column_checks().get(column, ()):
        if check.low is not None:
            low = check.low if low is None else max(low, check.low)
        if check.high is not None and not check.also:
            high = check.high if high is None else min(high, check.high)
    return low, high


def check_value(column: str, value: float | None) -> Violation | None:
    """The first rule a single value breaks (None: plausible, missing or unknown column)."""
    if value is None:
        return None
    for check in column_checks().get(column, ()):
        if check.breaks_value(value):
            return Violation(check.rule, (column,), check.message)
    return None


def employment_breaks(
    employed: npt.NDArray[np.float64], birth: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """True where an employment goes back further than the birth (both known, not 365243)."""
    with np.errstate(invalid="ignore"):
        longer: npt.NDArray[np.bool_] = (employed != DAYS_EMPLOYED_ANOMALY) & (employed < birth)
    return longer


def check_cross_field(record: Mapping[str, Any]) -> list[Violation]:
    """The rules over two fields a record breaks; each field is taken as already valid."""
    employed, birth = record.get(EMPLOYED), record.get(BIRTH)
    if employed is None or birth is None:
        return []
    pair = (np.asarray([float(employed)]), np.asarray([float(birth)]))
    if not employment_breaks(*pair)[0]:
        return []
    message = (
        f"{EMPLOYED} ({_number(float(employed))}) goes back further than {BIRTH} "
        f"({_number(float(birth))}): employed for longer than the client has lived"
    )
    return [Violation(CROSS_FIELD_RULE, CROSS_FIELD_FIELDS, message)]


def check_record(record: Mapping[str, Any]) -> list[Violation]:
    """Every rule a raw application breaks: column rules, then the cross-field rule."""
    found: list[Violation] = []
    valid: dict[str, Any] = {}
    for column, value in record.items():
        violation = check_value(column, value) if column in column_checks() else None
        if violation is None:
            valid[column] = value
        else:
            found.append(violation)
    return found + check_cross_field(valid)


@dataclass(frozen=True)
class BatchViolations:
    """Where a table breaks the rules: (rule, column) -> rows whose value is to be missing."""

    masks: dict[tuple[str, str], npt.NDArray[np.bool_]]
    n_rows: int

    def rows(self) -> npt.NDArray[np.bool_]:
        """True for the rows holding at least one implausible value."""
        out = np.zeros(self.n_rows, dtype=bool)
        for mask in self.masks.values():
            out |= mask
        return out

    def missing_by_column(self) -> dict[str, npt.NDArray[np.bool_]]:
        """Column -> rows whose value is treated as missing (whatever the rule)."""
        out: dict[str, npt.NDArray[np.bool_]] = {}
        for (_, column), mask in self.masks.items():
            out[column] = out.get(column, np.zeros(self.n_rows, dtype=bool)) | mask
        return out


def find_violations(columns: Mapping[str, npt.NDArray[Any]]) -> BatchViolations:
    """Check every numeric column of a table (NaN for missing) against the rules.

    A value is counted under the first rule it breaks. The cross-field rule then looks at the
    values that passed their own rules and marks ``DAYS_EMPLOYED`` (the declared employment
    is the doubtful half; the birth date is a minimum field of every application).
    """
    n_rows = len(next(iter(columns.values()))) if columns else 0
    masks: dict[tuple[str, str], npt.NDArray[np.bool_]] = {}
    passed: dict[str, npt.NDArray[np.float64]] = {}
    for column, checks in column_checks().items():
        if column not in columns:
            continue
        values = np.asarray(columns[column], dtype=np.float64)
        remaining = ~np.isnan(values)
        for check in checks:
            mask = remaining & check.breaks(values)
            if mask.any():
                masks[(check.rule, column)] = mask
            remaining &= ~mask
        passed[column] = np.where(remaining, values, np.nan)
    if EMPLOYED in passed and BIRTH in passed:
        mask = employment_breaks(passed[EMPLOYED], passed[BIRTH])
        if mask.any():
            masks[(CROSS_FIELD_RULE, EMPLOYED)] = mask
    return BatchViolations(masks=masks, n_rows=n_rows)
