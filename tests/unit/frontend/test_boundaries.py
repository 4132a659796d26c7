"""What the dashboard may hold and import: code only, talking to the API only.

Also its hosting requirements (pinned, the same as pyproject's `frontend` extra), its words
(both languages, same placeholders) and its colours (WCAG contrast).
"""

from __future__ import annotations

import ast
import re
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "frontend"
ALLOWED_THIRD_PARTY = {"streamlit", "plotly", "requests"}
FORBIDDEN = (
    "training",
    "monitoring",
    "serving",
    "benchmarks",
    "creditscore_common",
    "functions",
    "app",
)
CODE_SUFFIXES = {".py", ".txt", ".toml", ".md"}


def frontend_files() -> list[Path]:
    return [
        p
        for p in FRONTEND.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_frontend_imports_only_the_stdlib_streamlit_plotly_and_requests() -> None:
    own = {p.stem for p in (FRONTEND / "dashboard").glob("*.py")} | {"dashboard"}
    for path in FRONTEND.rglob("*.py"):
        for name in imported_modules(path):
            if name in sys.stdlib_module_names or name in own or name == "__future__":
                continue
            assert name in ALLOWED_THIRD_PARTY, f"{path.relative_to(ROOT)} imports {name}"
            assert name not in FORBIDDEN


def test_importing_the_dashboard_loads_no_model_or_training_code() -> None:
    code = (
        "import sys; sys.path.insert(0, 'frontend'); import dashboard.frame; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'training', 'creditscore_common', 'lightgbm', 'onnxruntime', 'sklearn', 'mlflow', "
        "'boto3'}); print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_frontend_ships_code_only() -> None:
    files = frontend_files()
    assert files
    for path in files:
        assert path.suffix in CODE_SUFFIXES, f"{path.relative_to(ROOT)} is not code"
        assert path.stat().st_size < 100_000, f"{path.relative_to(ROOT)} is too large for code"
    assert sum(p.stat().st_size for p in files) < 300_000


def test_hosting_requirements_match_the_pinned_extra() -> None:
    """The host installs the hashed lock (make lock): each pin of the extra is in it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["frontend"]
    assert extra
    text = (FRONTEND / "requirements.txt").read_text()
    for pin in extra:
        assert "==" in pin, f"{pin}: every hosting requirement is pinned"
        assert re.search(rf"^{re.escape(pin)} \\$", text, re.MULTILINE), f"{pin} not in the lock"
    assert "--hash=sha256:" in text


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import i18n

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key in i18n.text_keys():
        fr, en = i18n.t(key, "fr"), i18n.t(key, "en")
        assert fr.strip() and en.strip(), key
        assert fields(fr) == fields(en), key


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (0.0942, "fr", "9,4\u00a0%"),
        (0.0942, "en", "9.4%"),
        (1234567.4, "fr", "1\u202f234\u202f567\u00a0€"),  # narrow no-break thousands
        (1234567.4, "en", "€1,234,567"),
    ],
)
def test_numbers_follow_the_language(value: float, lang: str, expected: str) -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import i18n

    shown = i18n.percent(value, lang) if value < 1 else i18n.money(value, lang)  # type: ignore[arg-type]
    assert shown == expected


def test_one_thousands_separator_in_every_dashboard_formatter() -> None:
    """Thousands grouped by U+202F in French, in texts, tables and charts; i18n its only home.

    French typography's narrow no-break space (CLDR's French locale uses it too); the API
    writes its own sentences with U+00A0, which is the API's choice.
    """
    sys.path.insert(0, str(FRONTEND))
    from dashboard import charts, i18n

    assert i18n.THOUSANDS_SEPARATOR == {"fr": "\u202f", "en": ","}
    assert i18n.number(1234567.25, "fr", 2) == "1\u202f234\u202f567,25"
    assert i18n.number(1234567.25, "en", 2) == "1,234,567.25"
    score = {"probability": 0.2, "threshold": 0.1, "decision": "refuse", "band": "clear"}
    for lang, expected in (("fr", ",\u202f"), ("en", ".,")):
        fig, _ = charts.gauge(score, lang)  # type: ignore[arg-type]
        assert fig.layout.separators == expected  # plotly: decimal mark, then thousands
    for path in (FRONTEND / "dashboard").glob("*.py"):  # no module spells a space of its own
        if path.name != "i18n.py":
            source = path.read_text()
            for spelled in ("\\u202f", "\\u00a0", "\\xa0", "\u202f", "\u00a0"):
                assert spelled not in source, f"{path.name} writes {spelled!r}"
            assert source.count("separators=") == source.count("separators=chart_separators(")


@pytest.mark.parametrize(
    ("share", "lang", "expected"),
    [
        (0.015, "fr", "1,5 point"),
        (0.02, "fr", "2,0 points"),
        (-0.21, "fr", "21,0 points"),
        (0.01, "en", "1.0 point"),
        (0.015, "en", "1.5 points"),
    ],
)
def test_points_agree_with_their_number(share: float, lang: str, expected: str) -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import i18n

    assert i18n.points(share, lang) == expected  # type: ignore[arg-type]


def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_contrast() -> None:
    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    for background in (theme["backgroundColor"], theme["secondaryBackgroundColor"]):
        assert contrast(theme["textColor"], background) >= 4.5
        assert contrast(theme["primaryColor"], background) >= 4.5
    sys.path.insert(0, str(FRONTEND))
    from dashboard import charts

    assert contrast(charts.INK, "#FFFFFF") >= 4.5  # every chart text
    # bar fills are graphics (WCAG 1.4.11 asks 3:1), and always carry a pattern or a word too
    for fill in (charts.BLUE, charts.VERMILLION):
        assert contrast(fill, "#FFFFFF") >= 3.0


@pytest.mark.parametrize(
    "interval",
    [
        {"lower": 0.085, "upper": 0.12},  # the marker inside the zone to review
        {"lower": 0.1, "upper": 0.12},  # on the edge of the accept zone
        {"lower": 0.1, "upper": 0.1},  # a model version without an interval: no amber zone
    ],
)
def test_the_threshold_marker_stands_out_from_the_zones_behind_it(
    interval: dict[str, float],
) -> None:
    """WCAG 1.4.11: the threshold marker, a graphic, has 3:1 against every zone it touches."""
    sys.path.insert(0, str(FRONTEND))
    from dashboard import charts

    score = {
        "probability": 0.3,
        "threshold": 0.1,
        "decision": "refuse",
        "band": "clear",
        "borderline": interval,
    }
    fig, _ = charts.gauge(score, "fr")
    gauge = fig.data[0].gauge
    marker = gauge.threshold.value
    assert marker == pytest.approx(10.0, abs=1e-9)
    behind = [step.color for step in gauge.steps if step.range[0] <= marker <= step.range[1]]
    assert behind, "the marker is off every zone"
    for colour in behind:
        assert contrast(gauge.threshold.line.color, colour) >= 3.0, colour


def test_colour_is_never_the_only_carrier() -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import charts

    items = [
        {"label": "A", "points": 3.2, "direction": "raises", "sentence": "A raises"},
        {"label": "B", "points": -1.5, "direction": "lowers", "sentence": "B lowers"},
    ]
    fig, alt = charts.factors(items, "fr")
    bar = fig.data[0]
    shapes = dict(zip(bar.y, bar.marker.pattern.shape, strict=True))
    assert shapes["▲ A"] == charts.HATCH and shapes["▼ B"] == ""
    assert list(bar.text) == ["−1,5\u00a0pt", "+3,2\u00a0pts"]  # the effect in words too
    assert "A (+3,2\u00a0pts)" in alt
    # the zone to review is named on the gauge, not only tinted
    score = {
        "probability": 0.102,
        "threshold": 0.1,
        "decision": "refuse",
        "band": "borderline",
        "borderline": {"lower": 0.085, "upper": 0.12},
    }
    fig, alt = charts.gauge(score, "fr")
    texts = [annotation.text for annotation in fig.layout.annotations]
    assert "à examiner\u00a0: 8,5\u00a0% – 12,0\u00a0%" in texts
    assert "zone à examiner de 8,5\u00a0% à 12,0\u00a0%" in alt and "À examiner" in alt
    feature = {
        "label": "X",
        "unit": "score",
        "client_value": 0.5,
        "percentile": 40.0,
        "bin_edges": [0, 0.5, 1],
        "counts": {"repaid": [10, 20], "defaulted": [5, None]},
    }
    fig, alt = charts.distribution(feature, "en")
    patterns = {trace.name: trace.marker.pattern.shape for trace in fig.data}
    # a hidden count is hatched grey and named, never a bar of zero
    assert patterns == {"Repaid": "", "Defaulted": charts.HATCH, "Count hidden (< 5)": "x"}
    assert "percentile 40" in alt


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (3.21, "fr", "+3,2\u00a0pts"),
        (-1.5, "fr", "−1,5\u00a0pt"),
        (0.04, "fr", "±0,0\u00a0pt"),
        (1.0, "en", "+1.0\u00a0pt"),
        (-12.345, "en", "−12.3\u00a0pts"),
    ],
)
def test_signed_points_are_points_not_log_odds(value: float, lang: str, expected: str) -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import i18n

    assert i18n.signed_points(value, lang) == expected  # type: ignore[arg-type]


def test_the_minimum_fields_come_from_the_api_flags() -> None:
    sys.path.insert(0, str(FRONTEND))
    from dashboard import forms

    group = "EXT_SOURCE_1|EXT_SOURCE_2|EXT_SOURCE_3"
    specs = {
        "AMT_CREDIT": {"required": True, "required_group": None},
        "AMT_ANNUITY": {"required": True, "required_group": None},
        "CODE_GENDER": {"required": False, "required_group": None},
        **{name: {"required": False, "required_group": group} for name in group.split("|")},
    }
    assert forms.missing_required({}, specs) == ["AMT_CREDIT", "AMT_ANNUITY", group]
    assert forms.missing_required({"AMT_CREDIT": 0.0, "EXT_SOURCE_3": 0.2}, specs) == [
        "AMT_ANNUITY"
    ]
    assert forms.missing_required(
        {"AMT_CREDIT": 1.0, "AMT_ANNUITY": float("nan"), "EXT_SOURCE_1": 0.5}, specs
    ) == ["AMT_ANNUITY"]
    label = forms.required_label(specs["EXT_SOURCE_2"], "Score externe 2", "fr")
    assert label == "Score externe 2 · obligatoire (un sur 3 suffit)"
    assert forms.required_label(specs["CODE_GENDER"], "Genre", "en") == "Genre"
