"""`creditscore eda`: the same facts training uses, counted right, on an accessible page.

Statistics on the shared small generated folder (checked against training's own functions,
the file and SciPy) and on hand-made cases where the answer is known; then one run of the
command end to end, logged to an MLflow run; bad input stops before any work (exit code 2,
nothing written).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import math
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from creditscore_common.features import (
    EMPLOYMENT_ANOMALY_FEATURE,
    PROTECTED_REASON,
    fit_feature_spec,
    transform_batch,
)
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY
from training.cli import EXIT_INVALID_INPUT, main
from training.data import (
    NEW_CLIENTS_FILE,
    TRAIN_FILE,
    ApplicationTable,
    load_applications,
    load_reference_and_new,
)
from training.eda import REPORT_FILE
from training.eda.analysis import (
    AGE_YEARS,
    Exploration,
    categorical_association,
    driver_values,
    numeric_view,
    outlier_shares,
)
from training.eda.page import PageFacts, render_html
from training.eda.run import explore


@pytest.fixture(scope="module")
def tables(small_data_dir: Path) -> tuple[ApplicationTable, ApplicationTable]:
    return load_reference_and_new(small_data_dir)


@pytest.fixture(scope="module")
def exploration(small_data_dir: Path) -> Exploration:
    return explore(small_data_dir)


def count_in_file(path: Path, column: str, value: float) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(
            1 for row in csv.DictReader(handle) if row[column] and float(row[column]) == value
        )


# ---------------------------------------------------------------------- the drop rule


def test_drop_list_is_the_one_training_computes(
    exploration: Exploration, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    training_spec = fit_feature_spec(tables[0].columns)
    assert exploration.spec.dropped_columns == training_spec.dropped_columns  # reasons too
    assert exploration.spec.dropped_columns["CODE_GENDER"] == PROTECTED_REASON
    assert len(exploration.spec.features) == len(training_spec.features)
    assert exploration.spec.features == training_spec.features


def test_columns_beyond_the_missing_line_are_the_ones_dropped_for_it(
    exploration: Exploration,
) -> None:
    beyond = {c.name for c in exploration.missing if c.missing_reference > 0.60}
    dropped_for_missing = {
        name
        for name, reason in exploration.spec.dropped_columns.items()
        if reason.startswith("missing for")
    }
    assert beyond == dropped_for_missing and beyond
    shares = [c.missing_reference for c in exploration.missing]
    assert shares == sorted(shares, reverse=True)
    for column in exploration.missing:
        assert column.dropped_reason == exploration.spec.dropped_columns.get(column.name)


# ---------------------------------------------------------------------- the anomaly


def test_anomaly_count_equals_the_count_in_the_files(
    exploration: Exploration, small_data_dir: Path
) -> None:
    anomaly = exploration.anomaly
    in_file = count_in_file(small_data_dir / TRAIN_FILE, "DAYS_EMPLOYED", DAYS_EMPLOYED_ANOMALY)
    assert in_file > 0
    assert anomaly.n_anomaly == in_file
    assert anomaly.n_flagged == in_file, "the transform flags every one of them"
    new_in_file = count_in_file(
        small_data_dir / NEW_CLIENTS_FILE, "DAYS_EMPLOYED", DAYS_EMPLOYED_ANOMALY
    )
    assert anomaly.n_new_anomaly == new_in_file
    assert sum(n for _, n, _ in anomaly.by_income_type) == in_file
    assert anomaly.flag_is_model_feature
    defaults = count_in_file(small_data_dir / TRAIN_FILE, "TARGET", 1.0)
    assert anomaly.defaults_anomaly + anomaly.defaults_others == defaults


def test_employment_in_years_is_missing_for_the_anomaly(
    exploration: Exploration, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    reference = tables[0]
    anomaly = reference.columns["DAYS_EMPLOYED"] == DAYS_EMPLOYED_ANOMALY
    years = driver_values(exploration.view, "EMPLOYMENT_YEARS")
    assert np.isnan(years[anomaly]).all()
    assert np.nanmax(years) < 100
    age = driver_values(exploration.view, AGE_YEARS)
    assert age == pytest.approx(-reference.columns["DAYS_BIRTH"] / 365.25, rel=1e-6)


# ---------------------------------------------------------------------- outliers


def test_outlier_shares_on_a_hand_made_case() -> None:
    values = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan], dtype=np.float32)
    (share,) = outlier_shares({"X": values}, {"X": (2.5, 8.0)})
    assert (share.n_below, share.n_above, share.n_rows) == (2, 2, 11)  # 8 is on the limit
    assert share.share_below == pytest.approx(2 / 11)
    assert share.share == pytest.approx(4 / 11), "missing values count in the denominator"
    assert (share.minimum, share.maximum) == (1.0, 10.0)


def test_a_value_that_clipping_leaves_unchanged_in_float32_is_not_counted() -> None:
    # float32(0.1) is above the float64 limit 0.1, yet clipping then rounding gives it back.
    values = np.array([0.1, 0.05], dtype=np.float32)
    (share,) = outlier_shares({"X": values}, {"X": (0.0, 0.1)})
    assert share.n_above == 0


def test_outliers_are_most_affected_first_and_unknown_features_skipped() -> None:
    values = {"A": np.arange(10.0), "B": np.arange(10.0)}
    limits = {"A": (0.5, 8.5), "B": (2.5, 6.5), "Z": (0.0, 1.0)}
    assert [o.name for o in outlier_shares(values, limits)] == ["B", "A"]


def test_outlier_shares_are_what_the_transform_clips(
    exploration: Exploration, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    spec = exploration.spec
    clipped = transform_batch(spec, tables[0].columns)
    by_name = {o.name: o for o in exploration.outliers}
    assert set(by_name) == set(spec.clip_limits)
    for j, name in enumerate(spec.numeric_features):
        if name not in spec.clip_limits:
            continue
        before = exploration.view.column(name)
        changed = np.isfinite(before) & (clipped[:, j] != before)
        assert by_name[name].n_below + by_name[name].n_above == int(changed.sum()), name


def test_view_is_the_transform_before_clipping(
    exploration: Exploration, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    spec = exploration.spec
    view = numeric_view(spec, tables[0])
    clipped = transform_batch(spec, tables[0].columns)
    for j, name in enumerate(spec.numeric_features):
        if name not in view.names:  # 0/1 flags: categories in this report
            continue
        low, high = spec.clip_limits.get(name, (-np.inf, np.inf))
        expected = np.clip(view.column(name).astype(np.float64), low, high).astype(np.float32)
        np.testing.assert_array_equal(clipped[:, j], expected, err_msg=name)


# ---------------------------------------------------------------------- associations


def test_numeric_associations_are_scipys(
    exploration: Exploration, tables: tuple[ApplicationTable, ApplicationTable]
) -> None:
    target = tables[0].target
    assert target is not None
    strongest = [a.point_biserial for a in exploration.numeric]
    assert [abs(r) for r in strongest] == sorted((abs(r) for r in strongest), reverse=True)
    assert EMPLOYMENT_ANOMALY_FEATURE not in {a.name for a in exploration.numeric}
    for association in exploration.numeric[:5]:
        values = exploration.view.column(association.name).astype(np.float64)
        known = np.isfinite(values)
        r, p = stats.pointbiserialr(target[known], values[known])
        assert association.point_biserial == pytest.approx(r)
        assert association.p_value == pytest.approx(p)
        rho = stats.spearmanr(values[known], target[known]).statistic
        assert association.spearman == pytest.approx(rho)
        assert association.n_known == int(known.sum())
    assert exploration.numeric[0].name.startswith("EXT_SOURCE"), "the known strongest drivers"


def test_categorical_association_on_a_hand_made_case() -> None:
    # Every expected count is at least 5: nothing is pooled, the test is the textbook one.
    levels = np.array(["A"] * 40 + ["B"] * 40 + [None] * 20, dtype=object)
    target = np.zeros(100, dtype=np.int8)
    target[:20] = 1  # 20 of A
    target[40:50] = 1  # 10 of B
    target[80:85] = 1  # 5 missing
    association = categorical_association("NAME_CONTRACT_TYPE", levels, target)
    rates = {lv.level: (lv.count, lv.defaults) for lv in association.levels}
    assert rates == {"A": (40, 20), "B": (40, 10), "(missing)": (20, 5)}
    assert [lv.level for lv in association.levels] == ["A", "B", "(missing)"]
    assert association.levels[1].default_rate == 0.25
    expected = stats.chi2_contingency(np.array([[20, 20], [30, 10], [15, 5]]))
    assert association.chi2 == pytest.approx(expected.statistic)
    assert association.p_value == pytest.approx(expected.pvalue)
    assert association.cramers_v == pytest.approx(math.sqrt(expected.statistic / 100))


def test_flags_are_categories_and_gender_is_marked_protected(exploration: Exploration) -> None:
    by_name = {a.name: a for a in exploration.categorical}
    assert {lv.level for lv in by_name["FLAG_EMP_PHONE"].levels} <= {"0", "1", "(missing)"}
    assert by_name["CODE_GENDER"].protected
    assert sum(lv.count for lv in by_name["CODE_GENDER"].levels) == exploration.n_reference


# ---------------------------------------------------------------------- reference vs new


def test_shifts_find_the_generated_drift(exploration: Exploration) -> None:
    psi = [s.psi for s in exploration.shifts]
    assert psi == sorted(psi, reverse=True)
    top = {s.name for s in exploration.shifts[:5]}
    # The generator's drift_manifest.json: these columns differ for new clients.
    assert {"DAYS_BIRTH", "EXT_SOURCE_3", "AMT_CREDIT", "NAME_CONTRACT_TYPE"} <= top


# ---------------------------------------------------------------------- the page


class Page(HTMLParser):
    """What an accessibility check needs: headings, images, tables, links, the language."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.images: list[dict[str, str | None]] = []
        self.tables = 0
        self.captions = 0
        self.links: list[str] = []
        self.sources: list[str] = []
        self.lang: str | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(int(tag[1]))
        elif tag == "img":
            self.images.append(found)
        elif tag == "table":
            self.tables += 1
        elif tag == "caption":
            self.captions += 1
        elif tag == "a":
            self.links.append(found.get("href") or "")
        elif tag == "html":
            self.lang = found.get("lang")
        if "src" in found:
            self.sources.append(found["src"] or "")


def assert_headings_in_order(headings: list[int]) -> None:
    """One h1 first, and never a level skipped on the way down (h2 -> h4)."""
    assert headings[0] == 1 and headings.count(1) == 1
    for previous, current in itertools.pairwise(headings):
        assert current <= previous + 1, f"h{previous} followed by h{current}"


def test_page_without_figures_still_reads_well(exploration: Exploration) -> None:
    facts = PageFacts("2026-01-01T00:00:00+00:00", "creditscore eda", "OUT", 1.0, True)
    page = render_html(exploration, {}, facts, 5)
    outline = Page()
    outline.feed(page)
    assert outline.lang == "en" and outline.images == []
    assert_headings_in_order(outline.headings)
    assert outline.tables == outline.captions > 0
    assert "href='drift_report.html'" in page and "open the drift report" in page
    assert f"{len(exploration.spec.features)} model features remain" in page


# ---------------------------------------------------------------------- the command


@dataclass(frozen=True)
class EdaRun:
    out: Path
    code: int
    stdout: str
    run_id: str
    tracking_uri: str


@pytest.fixture(scope="module")
def eda_run(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EdaRun:
    """`creditscore eda` on the small folder, into a new folder, logged to an MLflow run."""
    import mlflow

    from training import tracking

    root = tmp_path_factory.mktemp("eda")
    (root / "mlflow").mkdir()
    uri = f"sqlite:///{root}/mlflow/mlflow.db"
    out = root / "reports" / "eda"  # the parent does not exist yet either
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        with tracking.training_run("eda-test", {}) as run:
            run_id = run.active_run().info.run_id
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(
                [
                    "eda",
                    "--data",
                    str(small_data_dir),
                    "--out",
                    str(out),
                    "--run-id",
                    run_id,
                    "--no-progress",
                ]
            )
    mlflow.set_tracking_uri(None)  # leave no global state to the next tests
    return EdaRun(out, code, stdout.getvalue(), run_id, uri)


@pytest.fixture(scope="module")
def page(eda_run: EdaRun) -> tuple[str, Page]:
    text = (eda_run.out / REPORT_FILE).read_text(encoding="utf-8")
    parsed = Page()
    parsed.feed(text)
    return text, parsed


def test_the_command_writes_the_page_and_its_figures(eda_run: EdaRun) -> None:
    assert eda_run.code == 0
    files = sorted(p.name for p in eda_run.out.iterdir())
    assert REPORT_FILE in files
    figures = [f for f in files if f.endswith(".png")]
    assert len(figures) >= 15 and all(f.startswith("eda_") for f in figures)
    assert {"eda_missing_values.png", "eda_numeric_associations.png"} <= set(figures)
    leftovers = [p.name for p in eda_run.out.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "the staging folder is gone"
    assert "Exploratory analysis" in eda_run.stdout and "model features" in eda_run.stdout


def test_page_is_self_contained(page: tuple[str, Page]) -> None:
    text, parsed = page
    assert parsed.sources and all(s.startswith("data:image/png;base64,") for s in parsed.sources)
    assert "http://" not in text and "https://" not in text
    assert not {"script", "link", "iframe"} & parsed.tags


def test_every_image_has_a_text_alternative(page: tuple[str, Page], eda_run: EdaRun) -> None:
    _, parsed = page
    assert len(parsed.images) == len(list(eda_run.out.glob("*.png")))
    for image in parsed.images:
        assert (image.get("alt") or "").strip(), "an image without alt text"


def test_headings_do_not_skip_levels_and_tables_have_captions(page: tuple[str, Page]) -> None:
    _, parsed = page
    assert parsed.lang == "en"
    assert_headings_in_order(parsed.headings)
    assert parsed.tables == parsed.captions > 5


def test_page_shows_trainings_drop_list_and_the_drift_link(
    page: tuple[str, Page], small_data_dir: Path
) -> None:
    text, parsed = page
    reference = load_applications(small_data_dir / TRAIN_FILE, with_target=True)
    spec = fit_feature_spec(reference.columns)
    for column, reason in spec.dropped_columns.items():
        assert f"<th scope='row'>{column}</th>" in text
        assert reason in text
    assert f"{len(spec.features)} model features remain" in text
    assert "drift_report.html" in parsed.links, "a relative link to the drift report"
    assert "creditscore drift" in text


def test_the_report_is_logged_to_the_mlflow_run(eda_run: EdaRun) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=eda_run.tracking_uri)
    logged = {a.path for a in client.list_artifacts(eda_run.run_id, "eda")}
    assert f"eda/{REPORT_FILE}" in logged and "eda/eda_missing_values.png" in logged
    assert len(logged) == len(list(eda_run.out.iterdir()))
    metrics = client.get_run(eda_run.run_id).data.metrics
    assert metrics["eda.n_reference_clients"] == 6000


# ---------------------------------------------------------------------- bad input


@pytest.fixture
def data_copy(small_data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    target.mkdir()
    for name in (TRAIN_FILE, NEW_CLIENTS_FILE):
        shutil.copyfile(small_data_dir / name, target / name)
    return target


def run_eda_command(data: Path, out: Path, *extra: str) -> int:
    return main(["eda", "--data", str(data), "--out", str(out), "--no-progress", *extra])


def test_a_missing_file_exits_2_and_writes_nothing(
    data_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_copy / NEW_CLIENTS_FILE).unlink()
    assert run_eda_command(data_copy, tmp_path / "out") == EXIT_INVALID_INPUT
    error = capsys.readouterr().err
    assert NEW_CLIENTS_FILE in error and "does not exist" in error
    assert "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_a_missing_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eda_command(tmp_path / "nowhere", tmp_path / "out") == EXIT_INVALID_INPUT
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_file_failing_validation_exits_2_naming_the_column(
    data_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_copy / TRAIN_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("AMT_CREDIT")] = "lots"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("other work")
    assert run_eda_command(data_copy, out) == EXIT_INVALID_INPUT
    error = capsys.readouterr().err
    assert TRAIN_FILE in error and "AMT_CREDIT" in error and "line" in error
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"], "nothing half-written"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_unknown_mlflow_run_exits_2_before_the_work(
    eda_run: EdaRun,
    small_data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", eda_run.tracking_uri)  # a store already made
    code = run_eda_command(small_data_dir, tmp_path / "out", "--run-id", "0123456789abcdef")
    assert code == EXIT_INVALID_INPUT
    assert "0123456789abcdef" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_folder(
    small_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    out.write_text("not a folder")
    assert run_eda_command(small_data_dir, out) == EXIT_INVALID_INPUT
    assert "needs a folder" in capsys.readouterr().err
