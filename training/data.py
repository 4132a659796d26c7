"""Load and validate the Home Credit application files (real Kaggle files or generated ones).

Validation happens before any work: a file that is empty, lacks a column, has an unknown
one, holds text where a number belongs, repeats a client ID or has a TARGET outside {0, 1}
raises :class:`DataValidationError`, whose message names the file, the column and the lines.

Then the plausibility rules (``creditscore_common.plausibility``, the ones the API refuses an
application for) are applied: a value that breaks one (a negative income, a birth date in the
future, an external score of 7.5...) is read as missing, not refused, and counted per rule and
column in the table's :class:`DataQuality` (logged as a warning with the first lines).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from creditscore_common import plausibility
from creditscore_common.reference_schema import ID_COLUMN, TARGET_COLUMN, load_schema

log = logging.getLogger(__name__)

TRAIN_FILE = "application_train.csv"
NEW_CLIENTS_FILE = "application_test.csv"
TRUTH_FILE = "truth.csv"
_MAX_EXAMPLES = 5


class DataValidationError(ValueError):
    """The input data breaks the expected schema; ``problems`` lists each finding."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path} is not a valid application file:\n{listing}")


@dataclass(frozen=True)
class DataQuality:
    """The implausible values of one file, read as missing: counts per rule and column.

    ``counts[rule][column]`` is the number of values of ``column`` that broke ``rule``;
    ``lines`` holds the first of their file lines with the values, for messages.
    """

    file: str = ""
    n_rows: int = 0
    rows_affected: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    lines: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def n_values(self) -> int:
        """Values treated as missing, over every rule and column."""
        return sum(sum(by_column.values()) for by_column in self.counts.values())

    def by_rule(self) -> dict[str, int]:
        """Every rule -> values it set to missing (0 for the rules nothing broke)."""
        return {rule: sum(self.counts.get(rule, {}).values()) for rule in plausibility.RULES}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form recorded in a model version's metadata (``data_quality``)."""
        return {
            "file": self.file,
            "n_rows": self.n_rows,
            "rows_affected": self.rows_affected,
            "values_treated_as_missing": self.n_values,
            "rules": {
                rule: {"values": n, "columns": dict(sorted(self.counts.get(rule, {}).items()))}
                for rule, n in self.by_rule().items()
            },
        }

    def summary(self) -> str:
        """One line for people: how many values, and where."""
        if not self.n_values:
            return f"{self.file}: no implausible value in {self.n_rows:,} rows"
        parts = [
            f"{rule} {sum(by_column.values())} ("
            + ", ".join(f"{column} {n}" for column, n in sorted(by_column.items()))
            + ")"
            for rule, by_column in sorted(self.counts.items())
        ]
        return (
            f"{self.file}: {self.n_values} implausible values in {self.rows_affected:,} of "
            f"{self.n_rows:,} rows treated as missing: " + "; ".join(parts)
        )


@dataclass(frozen=True)
class ApplicationTable:
    """Validated application rows: ids, optional TARGET and the raw application columns.

    Numbers are float64 arrays with NaN for missing values; categories are object arrays of
    str with None for missing values. This is the raw input the feature transform expects.
    """

    path: Path
    ids: npt.NDArray[np.int64]
    target: npt.NDArray[np.int8] | None
    columns: dict[str, npt.NDArray[Any]]
    #: Values that broke a plausibility rule and were read as missing.
    quality: DataQuality = field(default_factory=DataQuality)

    @property
    def n_rows(self) -> int:
        """Number of clients."""
        return int(self.ids.size)

    def record(self, row: int) -> dict[str, Any]:
        """One client's raw application as a JSON-friendly dict (None for missing)."""
        out: dict[str, Any] = {}
        for name, values in self.columns.items():
            value = values[row]
            if isinstance(value, float | np.floating):
                out[name] = None if np.isnan(value) else float(value)
            else:
                out[name] = value
        return out


def _line(row_index: int) -> int:
    """File line of a data row (1-based, the header is line 1)."""
    return row_index + 2


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show 2.0, not np.float64)."""
    return value.item() if isinstance(value, np.generic) else value


def _examples(rows: npt.NDArray[np.int64], values: npt.NDArray[Any] | None = None) -> str:
    shown = rows[:_MAX_EXAMPLES]
    if values is None:
        parts = [str(_line(int(r))) for r in shown]
    else:
        parts = [f"{_line(int(r))} ({_plain(values[int(r)])!r})" for r in shown]
    more = f" and {rows.size - shown.size} more" if rows.size > shown.size else ""
    return ", ".join(parts) + more


def first_invalid_utf8(path: Path) -> tuple[int, int] | None:
    """``(byte, line)`` of the first byte that is not UTF-8 text, or None (streamed scan)."""
    line = 1
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            data = carry + chunk
            carry = b""
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                incomplete = error.reason == "unexpected end of data" and error.end == len(data)
                if not (incomplete and chunk):  # a character cut by the chunk: read on
                    return data[error.start], line + data.count(b"\n", 0, error.start)
                carry = data[error.start :]
                data = data[: error.start]
            if not chunk:
                return None
            line += data.count(b"\n")


def _not_utf8(path: Path) -> DataValidationError:
    found = first_invalid_utf8(path)
    where = f" (byte 0x{found[0]:02x} at line {found[1]})" if found else ""
    return DataValidationError(path, [f"{path} is not UTF-8 text{where}: save it as UTF-8"])


def read_header(path: Path) -> list[str]:
    """The column names on the first line of a CSV file (empty list for an empty file).

    A UTF-8 byte-order mark is skipped; a file that is not UTF-8 raises DataValidationError.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except UnicodeDecodeError as error:
        raise _not_utf8(path) from error


def _field_count_problems(path: Path, expected: int) -> list[str]:
    """Rows whose number of fields differs from the header's (``expected``)."""
    bad: list[str] = []
    n_bad = 0
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) != expected and row:
                n_bad += 1
                if len(bad) < _MAX_EXAMPLES:
                    bad.append(f"{reader.line_num} ({len(row)} fields)")
    if not n_bad:
        return []
    more = f" and {n_bad - len(bad)} more" if n_bad > len(bad) else ""
    return [f"expected {expected} fields on each line, found on lines {', '.join(bad)}{more}"]


def _check_header(path: Path, header: list[str], expected: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    if not header:
        return ["the file is empty (no header line)"]
    missing = [c for c in expected if c not in header]
    unknown = [c for c in header if c not in expected]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if duplicated:
        problems.append(f"columns named twice: {', '.join(duplicated)}")
    return problems


def _read_as_text(path: Path, names: list[str]) -> pa.Table:
    options = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True
    )
    return pacsv.read_csv(path, convert_options=options)


def _type_problems(path: Path, names: list[str], numeric: set[str]) -> list[str]:
    """Find the cells that are not numbers in numeric columns (the slow, precise path)."""
    table = _read_as_text(path, names)
    problems: list[str] = []
    for name in names:
        if name not in numeric:
            continue
        text = table.column(name).to_numpy(zero_copy_only=False)
        bad: list[int] = []
        for i, cell in enumerate(text):
            if cell is None:
                continue
            try:
                float(cell)
            except ValueError:
                bad.append(i)
        if bad:
            rows = np.asarray(bad, dtype=np.int64)
            problems.append(
                f"column {name}: expected numbers, found text on lines {_examples(rows, text)}"
            )
    return problems


def _value_problems(table: pa.Table, with_target: bool) -> list[str]:
    """Range and integrity checks on parsed columns."""
    schema = load_schema()
    problems: list[str] = []
    ids = table.column(ID_COLUMN).to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(ids).any():
        problems.append(
            f"column {ID_COLUMN}: missing on lines {_examples(np.flatnonzero(np.isnan(ids)))}"
        )
    else:
        unique_ids, counts = np.unique(ids, return_counts=True)
        dup_values = unique_ids[counts > 1]
        if dup_values.size:
            rows = np.flatnonzero(np.isin(ids, dup_values))
            shown = ", ".join(str(int(v)) for v in dup_values[:_MAX_EXAMPLES])
            problems.append(
                f"column {ID_COLUMN}: duplicate client IDs ({shown}) on lines {_examples(rows)}"
            )
        if (ids != np.round(ids)).any():
            rows = np.flatnonzero(ids != np.round(ids))
            problems.append(
                f"column {ID_COLUMN}: not whole numbers on lines {_examples(rows, ids)}"
            )
    if with_target:
        target = table.column(TARGET_COLUMN).to_numpy(zero_copy_only=False).astype(np.float64)
        bad = np.flatnonzero(~np.isin(target, (0.0, 1.0)))
        if bad.size:
            problems.append(
                f"column {TARGET_COLUMN}: must be 0 or 1, found on lines {_examples(bad, target)}"
            )
    for name in schema.numeric_names:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if np.isinf(values).any():
            rows = np.flatnonzero(np.isinf(values))
            problems.append(f"column {name}: infinite values on lines {_examples(rows, values)}")
        kind = schema[name].kind
        finite = np.isfinite(values)
        if kind == "flag":
            bad = np.flatnonzero(finite & ~np.isin(values, (0.0, 1.0)))
            if bad.size:
                problems.append(
                    f"column {name}: a flag must be 0 or 1, found on lines {_examples(bad, values)}"
                )
        elif kind == "integer":
            bad = np.flatnonzero(finite & (values != np.round(values)))
            if bad.size:
                problems.append(
                    f"column {name}: expected whole numbers, found on lines "
                    f"{_examples(bad, values)}"
                )
    return problems


def treat_implausible_as_missing(path: Path, columns: dict[str, npt.NDArray[Any]]) -> DataQuality:
    """Set to NaN, in place, every value that breaks a plausibility rule; count them."""
    found = plausibility.find_violations(columns)
    counts: dict[str, dict[str, int]] = {}
    lines: dict[str, dict[str, str]] = {}
    for (rule, column), mask in found.masks.items():
        rows = np.flatnonzero(mask)
        counts.setdefault(rule, {})[column] = int(rows.size)
        lines.setdefault(rule, {})[column] = _examples(rows, columns[column])
    for column, mask in found.missing_by_column().items():
        columns[column][mask] = np.nan
    quality = DataQuality(
        file=path.name,
        n_rows=found.n_rows,
        rows_affected=int(found.rows().sum()),
        counts=counts,
        lines=lines,
    )
    if quality.n_values:
        where = "; ".join(
            f"{rule} {column} on lines {text}"
            for rule, by_column in sorted(lines.items())
            for column, text in sorted(by_column.items())
        )
        log.warning("%s (%s)", quality.summary(), where)
    return quality


def data_quality_record(
    reference: ApplicationTable, new_clients: ApplicationTable
) -> dict[str, Any]:
    """A training run's ``data_quality`` block: what each file had read as missing."""
    return {
        "rules": "creditscore_common.plausibility (the API answers 422 for the same values)",
        "reference": reference.quality.as_dict(),
        "new_clients": new_clients.quality.as_dict(),
    }


def data_quality_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metrics of a ``data_quality`` block: ``data_quality.<rule>`` (reference file)."""
    metrics: dict[str, float] = {}
    for key, prefix in (("reference", "data_quality"), ("new_clients", "data_quality.new_clients")):
        block = record[key]
        metrics[f"{prefix}.rows_affected"] = float(block["rows_affected"])
        for rule, figures in block["rules"].items():
            metrics[f"{prefix}.{rule}"] = float(figures["values"])
    return metrics


def load_applications(path: Path, with_target: bool) -> ApplicationTable:
    """Read and validate one application file; raise DataValidationError on any problem.

    Values that break a plausibility rule are then read as missing (``table.quality``).
    """
    schema = load_schema()
    if not path.is_file():
        raise DataValidationError(path, ["the file does not exist"])
    expected = schema.names if with_target else schema.new_client_names
    header = read_header(path)
    problems = _check_header(path, header, expected)
    if problems:
        raise DataValidationError(path, problems)

    numeric = {*schema.numeric_names, ID_COLUMN, TARGET_COLUMN}
    types = {n: (pa.float64() if n in numeric else pa.string()) for n in header}
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as error:
        if first_invalid_utf8(path) is not None:
            raise _not_utf8(path) from error
        problems = _field_count_problems(path, len(header)) or _type_problems(path, header, numeric)
        raise DataValidationError(path, problems or [f"unreadable CSV: {error}"]) from error
    if table.num_rows == 0:
        raise DataValidationError(path, ["the file has a header but no client rows"])
    problems = _value_problems(table, with_target)
    if problems:
        raise DataValidationError(path, problems)

    columns: dict[str, npt.NDArray[Any]] = {}
    for name in schema.application_names:
        array = table.column(name).to_numpy(zero_copy_only=False)
        columns[name] = array.astype(np.float64) if name in numeric else array.astype(object)
    quality = treat_implausible_as_missing(path, columns)
    target = None
    if with_target:
        target = table.column(TARGET_COLUMN).to_numpy().astype(np.int8)
    ids = table.column(ID_COLUMN).to_numpy().astype(np.int64)
    log.info("loaded %s: %d clients", path, ids.size)
    return ApplicationTable(path=path, ids=ids, target=target, columns=columns, quality=quality)


def load_reference_and_new(data_dir: Path) -> tuple[ApplicationTable, ApplicationTable]:
    """Load the reference (training) and new clients from a folder with the Kaggle names."""
    reference = load_applications(data_dir / TRAIN_FILE, with_target=True)
    new_clients = load_applications(data_dir / NEW_CLIENTS_FILE, with_target=False)
    shared = np.intersect1d(reference.ids, new_clients.ids)
    if shared.size:
        shown = ", ".join(str(i) for i in shared[:_MAX_EXAMPLES])
        raise DataValidationError(
            new_clients.path,
            [f"column {ID_COLUMN}: {shared.size} IDs also appear in {TRAIN_FILE} ({shown})"],
        )
    return reference, new_clients


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
