"""Input validation: every broken file is refused with a message naming the column and line.

Each case copies the small generated files, breaks one thing and checks the loader and the
`creditscore train` command (exit code 2, nothing written in the output folder).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from creditscore_common.reference_schema import load_schema
from training.cli import EXIT_INVALID_INPUT, main
from training.data import (
    NEW_CLIENTS_FILE,
    TRAIN_FILE,
    ApplicationTable,
    DataValidationError,
    load_applications,
    load_reference_and_new,
)

Rows = list[list[str]]


@pytest.fixture
def data_dir(small_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the two application files, free to corrupt."""
    target = tmp_path / "data"
    target.mkdir()
    for name in (TRAIN_FILE, NEW_CLIENTS_FILE):
        shutil.copyfile(small_data_dir / name, target / name)
    return target


def read_rows(path: Path) -> Rows:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: Rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def edit(path: Path, change: Callable[[Rows], None]) -> None:
    rows = read_rows(path)
    change(rows)
    write_rows(path, rows)


def set_cell(rows: Rows, line: int, column: str, value: str) -> None:
    """Set a cell by file line (1-based; line 1 is the header)."""
    rows[line - 1][rows[0].index(column)] = value


def drop_column(rows: Rows, column: str) -> None:
    j = rows[0].index(column)
    for row in rows:
        del row[j]


def add_column(rows: Rows, column: str, value: str) -> None:
    rows[0].append(column)
    for row in rows[1:]:
        row.append(value)


def copy_id(rows: Rows, from_line: int, to_line: int) -> None:
    set_cell(rows, to_line, "SK_ID_CURR", rows[from_line - 1][0])


def assert_no_output(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), sorted(out.rglob("*"))


@dataclass(frozen=True)
class Corruption:
    """One way of breaking a file and the fragments its error message must contain."""

    file: str
    change: Callable[[Path], None]
    fragments: tuple[str, ...]


def _rows(change: Callable[[Rows], None]) -> Callable[[Path], None]:
    return lambda path: edit(path, change)


def _header_only(path: Path) -> None:
    path.write_text(path.read_text().splitlines()[0] + "\n")


CORRUPTIONS = {
    "missing column": Corruption(
        TRAIN_FILE,
        _rows(lambda r: drop_column(r, "AMT_ANNUITY")),
        ("missing columns", "AMT_ANNUITY"),
    ),
    "unknown column": Corruption(
        TRAIN_FILE,
        _rows(lambda r: add_column(r, "SECRET_SCORE", "1")),
        ("unknown columns", "SECRET_SCORE"),
    ),
    "column named twice": Corruption(
        TRAIN_FILE,
        _rows(lambda r: add_column(r, "AMT_CREDIT", "1")),
        ("AMT_CREDIT", "twice"),
    ),
    "text in a numeric column": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 6, "AMT_CREDIT", "lots")),
        ("column AMT_CREDIT", "lines 6 ('lots')"),
    ),
    "text in a flag column": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 41, "FLAG_EMP_PHONE", "yes")),
        ("column FLAG_EMP_PHONE", "lines 41 ('yes')"),
    ),
    "duplicate client ID": Corruption(
        TRAIN_FILE,
        _rows(lambda r: copy_id(r, 4, 11)),
        ("SK_ID_CURR", "duplicate", "lines 4, 11"),
    ),
    "missing client ID": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 9, "SK_ID_CURR", "")),
        ("SK_ID_CURR", "missing", "lines 9"),
    ),
    "TARGET = 2": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 8, "TARGET", "2")),
        ("column TARGET", "0 or 1", "lines 8"),
    ),
    "TARGET missing": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 10, "TARGET", "")),
        ("column TARGET", "lines 10"),
    ),
    "TARGET column absent": Corruption(
        TRAIN_FILE,
        _rows(lambda r: drop_column(r, "TARGET")),
        ("missing columns", "TARGET"),
    ),
    "empty file": Corruption(TRAIN_FILE, lambda p: p.write_bytes(b""), ("empty",)),
    "header only": Corruption(TRAIN_FILE, _header_only, ("no client rows",)),
    "flag value 3": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 13, "FLAG_EMP_PHONE", "3")),
        ("column FLAG_EMP_PHONE", "0 or 1", "lines 13"),
    ),
    "fractional count": Corruption(
        TRAIN_FILE,
        _rows(lambda r: set_cell(r, 15, "CNT_CHILDREN", "1.5")),
        ("column CNT_CHILDREN", "whole numbers", "lines 15"),
    ),
    "new clients file missing": Corruption(
        NEW_CLIENTS_FILE, lambda p: p.unlink(), ("does not exist",)
    ),
    "TARGET in the new clients file": Corruption(
        NEW_CLIENTS_FILE,
        _rows(lambda r: add_column(r, "TARGET", "0")),
        ("unknown columns", "TARGET"),
    ),
    "text in the new clients file": Corruption(
        NEW_CLIENTS_FILE,
        _rows(lambda r: set_cell(r, 3, "DAYS_BIRTH", "unknown")),
        ("column DAYS_BIRTH", "lines 3 ('unknown')"),
    ),
}


@pytest.mark.parametrize("case", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_loader_refuses_with_a_precise_message(data_dir: Path, case: Corruption) -> None:
    case.change(data_dir / case.file)
    with pytest.raises(DataValidationError) as caught:
        load_reference_and_new(data_dir)
    message = str(caught.value)
    assert caught.value.path == data_dir / case.file
    assert case.file in message
    for fragment in case.fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert caught.value.problems


@pytest.mark.parametrize("case", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_train_command_exits_2_and_writes_nothing(
    data_dir: Path, tmp_path: Path, case: Corruption, capsys: pytest.CaptureFixture[str]
) -> None:
    case.change(data_dir / case.file)
    out = tmp_path / "artifacts"
    code = main(["train", "--data", str(data_dir), "--out", str(out), "--quick"])
    assert code == EXIT_INVALID_INPUT
    assert_no_output(out)
    err = capsys.readouterr().err
    assert case.fragments[-1] in err


def test_train_command_leaves_an_existing_artifacts_folder_untouched(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "artifacts"
    (out / "older-version").mkdir(parents=True)
    (out / "older-version" / "metadata.json").write_text("{}")
    edit(data_dir / TRAIN_FILE, lambda r: set_cell(r, 8, "TARGET", "2"))
    code = main(["train", "--data", str(data_dir), "--out", str(out), "--quick"])
    assert code == EXIT_INVALID_INPUT
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "older-version",
        "older-version/metadata.json",
    ]


def test_ids_shared_between_reference_and_new_clients(data_dir: Path, tmp_path: Path) -> None:
    train_rows = read_rows(data_dir / TRAIN_FILE)
    shared = train_rows[5][0]
    edit(data_dir / NEW_CLIENTS_FILE, lambda r: set_cell(r, 2, "SK_ID_CURR", shared))
    # Each file is valid on its own ...
    load_applications(data_dir / TRAIN_FILE, with_target=True)
    load_applications(data_dir / NEW_CLIENTS_FILE, with_target=False)
    # ... but not together.
    with pytest.raises(DataValidationError) as caught:
        load_reference_and_new(data_dir)
    message = str(caught.value)
    assert "SK_ID_CURR" in message and shared in message and TRAIN_FILE in message
    out = tmp_path / "artifacts"
    assert main(["train", "--data", str(data_dir), "--out", str(out), "--quick"]) == 2
    assert_no_output(out)


def test_many_bad_lines_are_summarised(data_dir: Path) -> None:
    def break_many(rows: Rows) -> None:
        for line in range(2, 12):
            set_cell(rows, line, "TARGET", "7")

    edit(data_dir / TRAIN_FILE, break_many)
    with pytest.raises(DataValidationError) as caught:
        load_applications(data_dir / TRAIN_FILE, with_target=True)
    message = str(caught.value)
    assert "lines 2 (" in message and "6 (" in message and "and 5 more" in message
    assert "7 (" not in message  # only the first five lines are listed


def test_bad_values_are_shown_as_plain_numbers(data_dir: Path) -> None:
    """The message is for a person: the value as a number, not a numpy repr."""
    edit(data_dir / TRAIN_FILE, lambda r: set_cell(r, 8, "TARGET", "2"))
    with pytest.raises(DataValidationError) as caught:
        load_applications(data_dir / TRAIN_FILE, with_target=True)
    message = str(caught.value)
    assert "np.float64" not in message
    assert "lines 8 (2.0)" in message or "lines 8 (2)" in message


def test_several_problems_are_all_reported(data_dir: Path) -> None:
    def two_problems(rows: Rows) -> None:
        set_cell(rows, 8, "TARGET", "2")
        set_cell(rows, 13, "FLAG_EMP_PHONE", "3")

    edit(data_dir / TRAIN_FILE, two_problems)
    with pytest.raises(DataValidationError) as caught:
        load_applications(data_dir / TRAIN_FILE, with_target=True)
    assert len(caught.value.problems) == 2


# ----------------------------------------------------------------------- valid files


def _assert_same_table(a: ApplicationTable, b: ApplicationTable) -> None:
    assert np.array_equal(a.ids, b.ids)
    if a.target is None:
        assert b.target is None
    else:
        assert b.target is not None and np.array_equal(a.target, b.target)
    assert a.columns.keys() == b.columns.keys()
    for name in a.columns:
        x, y = a.columns[name], b.columns[name]
        if x.dtype == object:
            assert x.tolist() == y.tolist(), name
        else:
            assert np.array_equal(x, y, equal_nan=True), name


def test_generated_files_are_valid(small_data_dir: Path) -> None:
    reference, new_clients = load_reference_and_new(small_data_dir)
    schema = load_schema()
    assert reference.target is not None and set(np.unique(reference.target)) == {0, 1}
    assert new_clients.target is None
    assert reference.columns.keys() == set(schema.application_names)
    assert reference.n_rows > 0 and new_clients.n_rows > 0
    for name in schema.categorical_names:
        values = reference.columns[name]
        assert all(v is None or isinstance(v, str) for v in values), name
    for name in schema.numeric_names:
        assert reference.columns[name].dtype == np.float64, name


@pytest.mark.parametrize("file", [TRAIN_FILE, NEW_CLIENTS_FILE])
def test_columns_in_a_different_order_still_load(data_dir: Path, file: str) -> None:
    with_target = file == TRAIN_FILE
    original = load_applications(data_dir / file, with_target=with_target)
    rows = read_rows(data_dir / file)
    order = list(reversed(range(len(rows[0]))))
    write_rows(data_dir / file, [[row[j] for j in order] for row in rows])
    assert read_rows(data_dir / file)[0][0] != "SK_ID_CURR"
    reordered = load_applications(data_dir / file, with_target=with_target)
    _assert_same_table(original, reordered)


def test_quoted_and_unquoted_layouts_load_the_same(data_dir: Path) -> None:
    """The real Kaggle files are not quoted; the generated ones are. Both must load."""
    original = load_applications(data_dir / TRAIN_FILE, with_target=True)
    rows = read_rows(data_dir / TRAIN_FILE)
    with (data_dir / TRAIN_FILE).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n").writerows(rows)
    _assert_same_table(original, load_applications(data_dir / TRAIN_FILE, with_target=True))


# ----------------------------------------------------------------------- plausibility

#: (line, column, value written, rule): values no real application holds.
IMPLAUSIBLE = [
    (3, "AMT_INCOME_TOTAL", "-1", "amount_range"),
    (4, "DAYS_BIRTH", "400", "days_in_past"),
    (5, "EXT_SOURCE_2", "7.5", "score_range"),
    (6, "AMT_CREDIT", "1e308", "amount_range"),
    (7, "CNT_CHILDREN", "1e308", "count_range"),
    (8, "DAYS_EMPLOYED", "-1e308", "days_within_120_years"),
]


def test_implausible_values_are_read_as_missing_and_counted(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = load_applications(data_dir / TRAIN_FILE, with_target=True)
    assert original.quality.n_values == 0

    def inject(rows: Rows) -> None:
        for line, column, value, _ in IMPLAUSIBLE:
            set_cell(rows, line, column, value)
        set_cell(rows, 9, "DAYS_BIRTH", "-10000")  # employed for longer than alive
        set_cell(rows, 9, "DAYS_EMPLOYED", "-12000")

    edit(data_dir / TRAIN_FILE, inject)
    with caplog.at_level("WARNING", logger="training.data"):
        table = load_applications(data_dir / TRAIN_FILE, with_target=True)
    # The implausible values became missing; everything else reads as before.
    expected = {name: values.copy() for name, values in original.columns.items()}
    for line, column, _, _ in IMPLAUSIBLE:
        expected[column][line - 2] = np.nan
    expected["DAYS_EMPLOYED"][9 - 2] = np.nan
    expected["DAYS_BIRTH"][9 - 2] = -10000.0  # the birth date stays
    _assert_same_table(ApplicationTable(table.path, original.ids, original.target, expected), table)

    quality = table.quality
    assert quality.file == TRAIN_FILE and quality.n_rows == table.n_rows
    assert quality.rows_affected == 7 and quality.n_values == 7
    assert quality.counts == {
        "amount_range": {"AMT_INCOME_TOTAL": 1, "AMT_CREDIT": 1},
        "days_in_past": {"DAYS_BIRTH": 1},
        "score_range": {"EXT_SOURCE_2": 1},
        "count_range": {"CNT_CHILDREN": 1},
        "days_within_120_years": {"DAYS_EMPLOYED": 1},
        "employment_longer_than_life": {"DAYS_EMPLOYED": 1},
    }
    record = quality.as_dict()
    assert record["rules"]["amount_range"] == {
        "values": 2,
        "columns": {"AMT_CREDIT": 1, "AMT_INCOME_TOTAL": 1},
    }
    assert record["rules"]["flag_value"] == {"values": 0, "columns": {}}
    assert record["rows_affected"] == 7 and record["values_treated_as_missing"] == 7
    # The log names the rule, the column and the line, with the value as written.
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "amount_range AMT_INCOME_TOTAL on lines 3 (-1.0)" in message
    assert "employment_longer_than_life DAYS_EMPLOYED on lines 9 (-12000.0)" in message
    assert "7 implausible values in 7 of" in message


def test_generated_files_hold_no_implausible_value(small_data_dir: Path) -> None:
    reference, new_clients = load_reference_and_new(small_data_dir)
    for table in (reference, new_clients):
        assert table.quality.n_values == 0 and table.quality.rows_affected == 0
        assert set(table.quality.by_rule().values()) == {0}


def test_structural_problems_still_stop_the_load(data_dir: Path) -> None:
    """Implausible values are read as missing; a broken structure still refuses the file."""

    def both(rows: Rows) -> None:
        set_cell(rows, 3, "AMT_INCOME_TOTAL", "-1")
        set_cell(rows, 8, "TARGET", "2")

    edit(data_dir / TRAIN_FILE, both)
    with pytest.raises(DataValidationError) as caught:
        load_applications(data_dir / TRAIN_FILE, with_target=True)
    (problem,) = caught.value.problems  # only the structure is a problem
    assert "TARGET" in problem
