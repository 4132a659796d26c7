"""Honest charts and the advisor's number formats: shares over whole classes, hidden counts
drawn as hidden, rate scales from 0, axes and texts in the same words, contrast of marks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
sys.path.insert(0, str(FRONTEND))

from test_boundaries import contrast  # noqa: E402

from dashboard import charts, i18n  # noqa: E402

FEATURE = {
    "feature": "AMT_CREDIT",
    "label": "Montant du crédit",
    "unit": "amount",
    "client_value": 450000.0,
    "percentile": 40.0,
    "bin_edges": [0.0, 400000.0, 800000.0, 1200000.0],
    "counts": {"repaid": [30, None, 20], "defaulted": [6, None, 8]},
}


def test_class_shares_are_over_the_whole_class_not_the_visible_bins() -> None:
    # 40 defaulters in the class: 6 and 8 visible, the rest hidden or missing
    assert charts.class_shares([6, None, 8], 40) == [15.0, None, 20.0]
    # the old way would have read 6 / 14 = 43 % for the first bin
    fig, _ = charts.distribution(FEATURE, "fr", {"repaid": 100, "defaulted": 40})
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name["Défaut"].y) == [15.0, None, 20.0]
    assert list(by_name["Remboursé"].y) == [30.0, None, 20.0]


def test_a_hidden_bin_is_drawn_hatched_grey_never_as_zero() -> None:
    fig, _ = charts.distribution(FEATURE, "fr", {"repaid": 100, "defaulted": 40})
    masked = [trace for trace in fig.data if trace.name == "Effectif masqué (< 5)"]
    assert len(masked) == 1
    (bar,) = masked
    assert list(bar.x) == [600000.0] and bar.y[0] > 0
    assert bar.marker.pattern.shape == charts.MASK_HATCH and list(bar.text) == ["< 5"]
    assert contrast(charts.MASKED, "#FFFFFF") >= 3.0


def test_the_default_rate_map_masks_sparse_cells_and_starts_at_zero() -> None:
    answer = {
        "x": {
            "feature": "AMT_CREDIT",
            "label": "Crédit",
            "unit": "amount",
            "client_value": 100000.0,
            "bin_edges": [0.0, 200000.0, 400000.0],
        },
        "y": {
            "feature": "CREDIT_INCOME_RATIO",
            "label": "Ratio",
            "unit": "ratio",
            "client_value": 2.0,
            "bin_edges": [0.0, 3.0, 6.0],
        },
        # [x][y]: a cell of 40 repaid and 10 defaults, one of 30 repaid and no default,
        # one whose defaults are hidden, one empty
        "counts": {"repaid": [[40, 30], [25, 0]], "defaulted": [[10, 0], [None, 0]]},
    }
    assert charts.cell_rates(answer["counts"]) == [[20.0, None], [None, None]]
    fig, alt = charts.bivariate(answer, "fr")
    heatmap = fig.data[0]
    assert heatmap.zmin == 0.0 and heatmap.zmax >= 20.0
    masked = [trace for trace in fig.data if trace.name == "Effectif masqué (< 5)"]
    assert len(masked) == 1 and len(masked[0].x) == 2  # the 0-default and hidden cells, not 0 %
    assert "20,0" in alt  # the client's cell


def test_axes_speak_like_the_texts() -> None:
    fig, alt = charts.distribution(FEATURE, "fr", {"repaid": 100, "defaulted": 40})
    ticks = list(fig.layout.xaxis.ticktext)
    assert ticks and all(tick.endswith("€") for tick in ticks)
    assert ticks == ["0\u00a0€", "250\u00a0k€", "500\u00a0k€", "750\u00a0k€", "1\u00a0M€"]
    assert "450\u202f000\u00a0€" in alt
    ratio = {
        **FEATURE,
        "feature": "CREDIT_INCOME_RATIO",
        "unit": "ratio",
        "client_value": 4.46,
        "bin_edges": [0.0, 2.5, 5.0, 7.5],
    }
    fig, alt = charts.distribution(ratio, "fr", {"repaid": 100, "defaulted": 40})
    assert "4,5\u00a0fois le revenu annuel" in alt  # not "446 %"
    assert all(tick.endswith("fois") for tick in fig.layout.xaxis.ticktext)
    fig, _ = charts.distribution(FEATURE, "en", {"repaid": 100, "defaulted": 40})
    assert list(fig.layout.xaxis.ticktext)[-1] == "€1M"
    assert i18n.compact_money(1_200_000, "fr") == "1,2\u00a0M€"
    assert i18n.compact_money(1_200_000, "en") == "€1.2M"


@pytest.mark.parametrize(
    ("value", "feature", "lang", "expected"),
    [
        (4.46, "CREDIT_INCOME_RATIO", "fr", "4,5\u00a0fois le revenu annuel"),
        (4.46, "CREDIT_INCOME_RATIO", "en", "4.5\u00a0times the annual income"),
        (0.152, "ANNUITY_INCOME_RATIO", "fr", "15\u00a0% du revenu annuel"),
    ],
)
def test_ratios_in_words(value: float, feature: str, lang: i18n.Lang, expected: str) -> None:
    assert i18n.value_text(value, "ratio", lang, feature) == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("1 204 669 €", "fr", 1204669.0),
        ("1\u202f204\u202f669\u00a0€", "fr", 1204669.0),
        ("1204669", "fr", 1204669.0),
        ("12,3", "fr", 12.3),
        ("12.3", "fr", 12.3),
        ("1.204.669", "fr", 1204669.0),
        ("€1,204,669", "en", 1204669.0),
        ("", "fr", None),
    ],
)
def test_numbers_typed_as_people_write_them(
    text: str, lang: i18n.Lang, expected: float | None
) -> None:
    assert i18n.parse_number(text, lang) == expected


def test_a_text_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError):
        i18n.parse_number("beaucoup", "fr")


def test_french_punctuation_never_starts_a_line() -> None:
    assert i18n.colon("fr") == "\u00a0: "
    assert i18n.t("whatif_title", "fr") == "Et si…\u202f?"
    assert " :" not in "".join(i18n.t(key, "fr") for key in i18n.text_keys())


def test_the_threshold_mark_stands_out_from_the_value_bar_too() -> None:
    score = {
        "probability": 0.3,
        "threshold": 0.1,
        "decision": "refuse",
        "band": "clear",
        "borderline": {"lower": 0.085, "upper": 0.12},
    }
    fig, _ = charts.gauge(score, "fr")
    gauge = fig.data[0].gauge
    for colour in (gauge.bar.color, *(step.color for step in gauge.steps), "#FFFFFF"):
        assert contrast(gauge.threshold.line.color, colour) >= 3.0, colour


def test_factor_names_sit_whole_above_their_bars() -> None:
    long_name = "Part du revenu consacrée au remboursement du crédit demandé"
    items = [{"label": long_name, "points": 3.2, "direction": "raises", "sentence": "s"}]
    fig, _ = charts.factors(items, "fr")
    assert fig.layout.yaxis.showticklabels is False
    (note,) = [a for a in fig.layout.annotations if "Part du revenu" in a.text]
    assert note.text.replace("<br>", " ") == f"▲ {long_name}"
    assert all(len(line) <= charts.LABEL_WRAP for line in note.text.split("<br>"))


def test_model_ids_are_named_in_words() -> None:
    assert i18n.word_for("imbalance", "undersample", "fr") == "sous-échantillonnage"
    assert i18n.word_for("model", "lightgbm", "en").startswith("LightGBM")
    assert i18n.word_for("model", "something-new", "fr") == "something-new"
