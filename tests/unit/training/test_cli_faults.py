"""Faults of the input files and of the store: exit code 2, a plain message, no traceback."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from creditscore_common.reference_schema import ID_COLUMN, TARGET_COLUMN, load_schema
from creditscore_common.store.local import LocalStore
from training.cli import EXIT_INVALID_INPUT, main
from training.data import (
    NEW_CLIENTS_FILE,
    TRAIN_FILE,
    first_invalid_utf8,
    load_applications,
    read_header,
)
from training.train import TrainingResult

Rows = list[list[str]]
BAD_LINE = 5


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


def write_rows(path: Path, rows: Rows, encoding: str = "utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def text_column(rows: Rows) -> str:
    numeric = {*load_schema().numeric_names, ID_COLUMN, TARGET_COLUMN}
    return next(name for name in rows[0] if name not in numeric)


def make_latin1(path: Path) -> None:
    """Rewrite the file in Latin-1 with an accented letter on line ``BAD_LINE``."""
    rows = read_rows(path)
    rows[BAD_LINE - 1][rows[0].index(text_column(rows))] = "Célibataire"
    write_rows(path, rows, encoding="latin-1")


def check_refused(capsys: pytest.CaptureFixture[str], code: int, *parts: str) -> str:
    err = capsys.readouterr().err
    assert code == EXIT_INVALID_INPUT, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err
    return err


def test_train_refuses_a_latin1_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / TRAIN_FILE
    make_latin1(path)
    out = tmp_path / "artifacts"
    code = main(["train", "--data", str(data_dir), "--out", str(out), "--quick"])
    check_refused(
        capsys, code, f"{path} is not UTF-8 text (byte 0xe9 at line {BAD_LINE}): save it as UTF-8"
    )
    assert not out.exists() or not any(out.iterdir())


def test_a_latin1_header_is_refused_too(data_dir: Path) -> None:
    path = data_dir / NEW_CLIENTS_FILE
    rows = read_rows(path)
    rows[0][-1] = rows[0][-1] + "é"
    write_rows(path, rows, encoding="latin-1")
    with pytest.raises(ValueError, match=r"not UTF-8 text \(byte 0xe9 at line 1\)"):
        read_header(path)


def test_eda_refuses_a_latin1_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_latin1(data_dir / NEW_CLIENTS_FILE)
    code = main(["eda", "--data", str(data_dir), "--out", str(tmp_path / "eda"), "--no-progress"])
    check_refused(capsys, code, "is not UTF-8 text (byte 0xe9 at line 5)")


def test_predict_refuses_a_latin1_file(
    data_dir: Path,
    tmp_path: Path,
    trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = data_dir / NEW_CLIENTS_FILE
    make_latin1(path)
    out = tmp_path / "scores.csv"
    args = ["predict", "--model", str(trained_model.version_dir), "--data", str(path)]
    code = main([*args, "--out", str(out)])
    check_refused(capsys, code, f"{path} is not UTF-8 text (byte 0xe9 at line {BAD_LINE})")
    assert not out.exists()


def test_a_short_row_names_the_line_and_the_field_counts(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / TRAIN_FILE
    rows = read_rows(path)
    expected = len(rows[0])
    del rows[6][-5:]  # line 7
    write_rows(path, rows)
    out = tmp_path / "artifacts"
    code = main(["train", "--data", str(data_dir), "--out", str(out), "--quick"])
    check_refused(
        capsys,
        code,
        str(path),
        f"expected {expected} fields on each line, found on lines 7 ({expected - 5} fields)",
    )
    assert not out.exists() or not any(out.iterdir())


def test_a_byte_order_mark_is_skipped(data_dir: Path) -> None:
    path = data_dir / NEW_CLIENTS_FILE
    plain = load_applications(path, with_target=False)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_header(path)[0] == ID_COLUMN
    table = load_applications(path, with_target=False)
    assert (table.ids == plain.ids).all()
    assert table.columns.keys() == plain.columns.keys()


def test_predict_reads_a_file_with_a_byte_order_mark(
    data_dir: Path,
    tmp_path: Path,
    trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = data_dir / NEW_CLIENTS_FILE
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    out = tmp_path / "scores.csv"
    args = ["predict", "--model", str(trained_model.version_dir), "--data", str(path)]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.is_file()


def publish_args(model: TrainingResult, data: Path, store: str) -> list[str]:
    return ["publish", "--model", str(model.version_dir), "--data", str(data), "--store", store]


def test_publish_into_a_store_that_cannot_be_created(
    tmp_path: Path, small_data_dir: Path, trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = f"local:{blocker / 'store'}"
    code = main(publish_args(trained_model, small_data_dir, store))
    check_refused(capsys, code, f"cannot write to the store at {store}: ")
    assert blocker.read_text() == "not a folder"


def _refuse(error: BaseException) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise error

    return refuse


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("put_model_version", PermissionError(13, "Permission denied", "/store/models")),
        ("put_clients", sqlite3.OperationalError("attempt to write a readonly database")),
        ("activate", PermissionError(13, "Permission denied", "/store/models/.active-x")),
    ],
)
def test_publish_into_a_read_only_store_leaves_the_active_version(
    tmp_path: Path,
    small_data_dir: Path,
    trained_model: TrainingResult,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    error: BaseException,
) -> None:
    root = tmp_path / "store"
    store = f"local:{root}"
    monkeypatch.setattr(LocalStore, method, _refuse(error))
    code = main(publish_args(trained_model, small_data_dir, store))
    reason = "Permission denied" if isinstance(error, OSError) else str(error)
    check_refused(capsys, code, f"cannot write to the store at {store}: {reason}")
    monkeypatch.undo()
    opened = LocalStore(root)
    try:
        assert opened.active_version() is None
    finally:
        opened.close()


def test_the_utf8_scan_reads_across_its_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    head = b"a\n" * ((1 << 19) - 1) + b"x"  # "é" is cut by the first 1 MiB chunk
    path.write_bytes(head + "é\n".encode() + b"b\n")
    assert first_invalid_utf8(path) is None
    path.write_bytes(head + "é\n".encode() + b"b\xe9\n")
    assert first_invalid_utf8(path) == (0xE9, (1 << 19) + 1)
    path.write_bytes(head + b"\xc3")  # cut by the end of the file
    assert first_invalid_utf8(path) == (0xC3, 1 << 19)
