"""The HTML drift report: one self-contained file, tables and plots with text alternatives.

:func:`render_html` turns a :class:`~monitoring.compare.DriftResult` into the page
(``drift_report.html``): the verdict and the rule, prediction drift, every model input, and
the distributions of every drifted input then of the most important ones, each plot embedded
as a PNG with its text alternative. Matplotlib is imported only when a report is drawn.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from monitoring.compare import DriftConfig, DriftResult
from monitoring.inputs import comparable
from monitoring.stats import FloatArray, level_counts

#: Okabe-Ito colours (safe for the common colour-vision deficiencies); line styles and
#: hatches tell the two samples apart without colour too.
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _numeric_plot(name: str, title: str, reference: FloatArray, current: FloatArray) -> str:
    import matplotlib.pyplot as plt

    ref, cur = reference[np.isfinite(reference)], current[np.isfinite(current)]
    figure, axis = plt.subplots(figsize=(6.4, 3.2))
    both = np.concatenate([ref, cur]) if ref.size + cur.size else np.zeros(1)
    low, high = np.quantile(both, [0.005, 0.995])
    if low == high:
        low, high = low - 0.5, high + 0.5
    bins = list(np.linspace(low, high, 41))
    if ref.size:
        axis.hist(np.clip(ref, low, high), bins=bins, density=True, histtype="stepfilled",
                  alpha=0.35, color=REFERENCE_COLOUR, hatch="//", label="reference")  # fmt: skip
    if cur.size:
        axis.hist(np.clip(cur, low, high), bins=bins, density=True, histtype="step",
                  linewidth=2, linestyle="--", color=CURRENT_COLOUR, label="current")  # fmt: skip
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(name)
    axis.set_ylabel("density")
    axis.legend(frameon=False)
    return _figure_png(figure)


def _categorical_plot(
    name: str, title: str, reference: npt.NDArray[Any], current: npt.NDArray[Any]
) -> str:
    import matplotlib.pyplot as plt

    levels, ref_counts, cur_counts = level_counts(reference, current)
    ref_share = ref_counts / max(ref_counts.sum(), 1)
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    order = np.argsort(-np.maximum(ref_share, cur_share), kind="stable")[:12]
    positions = np.arange(order.size)
    figure, axis = plt.subplots(figsize=(6.4, 0.35 * order.size + 1.4))
    axis.barh(positions - 0.2, ref_share[order], height=0.4, color=REFERENCE_COLOUR,
              hatch="//", label="reference")  # fmt: skip
    axis.barh(positions + 0.2, cur_share[order], height=0.4, color=CURRENT_COLOUR,
              label="current")  # fmt: skip
    axis.set_yticks(positions, [levels[i][:40] for i in order], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("share of clients")
    axis.set_title(title, fontsize=10)
    axis.legend(frameon=False, loc="lower right")
    return _figure_png(figure)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10**-digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _effect_text(feature: Mapping[str, Any]) -> str:
    statistics = feature["statistics"]
    if feature["kind"] == "numeric":
        return (
            f"KS {_fmt(statistics.get('ks'))}, Wasserstein/std "
            f"{_fmt(statistics.get('wasserstein_normed'))}"
        )
    chi2 = _fmt(statistics.get("chi2"), 1)
    return f"chi² {chi2}, Jensen-Shannon {_fmt(statistics.get('jensen_shannon'))}"


PREDICTION_HEADERS = ("mean (reference)", "mean (current)", "PSI", "KS", "p-value",
                      "Wasserstein/std", "drifted")  # fmt: skip
PREDICTION_KEYS = ("reference_mean", "current_mean", "psi", "ks_statistic", "p_value",
                   "wasserstein_normed", "drifted")  # fmt: skip
FEATURE_HEADERS = ("column", "label", "kind", "statistics", "p-value", "adjusted p", "PSI",
                   "missing ref.", "missing cur.", "importance rank", "drifted")  # fmt: skip
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;
color:#1a1a1a;line-height:1.45}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:1em 0}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:right}
th[scope=row],td.text{text-align:left}
thead th{background:#eee;position:sticky;top:0}
tr.drifted{background:#fdf0d5}
.verdict{font-size:1.3em;font-weight:700;padding:.6em;border:3px solid #1a1a1a}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:48%}
figcaption{font-size:.85em}
img{max-width:100%}
main{overflow-x:auto}
"""


def render_html(result: DriftResult, config: DriftConfig) -> str:
    """The self-contained HTML report (plots embedded as PNG, each with a text alternative)."""
    summary = result.summary
    features = summary["features"]
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Data drift report — model {e(summary['model_version'])}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>Data drift report — model {e(summary['model_version'])}</h1>",
        f"<p class='verdict' role='status'>Verdict: {e(summary['verdict'].upper())} — "
        f"{e(summary['message'])}</p>",
        "<table><caption>Samples compared</caption><thead><tr><th scope='col'>sample</th>"
        "<th scope='col'>rows</th><th scope='col'>source</th></tr></thead><tbody>",
    ]
    for side in ("reference", "current"):
        sample = summary[side]
        parts.append(
            f"<tr><th scope='row'>{side}</th><td>{sample['rows']:,}</td>"
            f"<td class='text'>{e(sample['source'])}</td></tr>"
        )
    parts.append("</tbody></table>")
    thresholds = summary["thresholds"]
    parts.append(
        "<h2>Rule</h2><p>An input is flagged when its Benjamini-Hochberg corrected p-value is "
        f"below {thresholds['alpha']} <em>and</em> its shift is large enough: PSI ≥ "
        f"{thresholds['psi']}, or Wasserstein distance / reference std ≥ "
        f"{thresholds['wasserstein_normed']} or a missing share moved by at least "
        f"{thresholds['missing_share']:.0%} points (numbers), or Jensen-Shannon distance ≥ "
        f"{thresholds['jensen_shannon']} (categories). Numbers: Kolmogorov-Smirnov test "
        "(and a chi-square test of the missing share); categories and 0/1 flags: chi-square, "
        "a missing value being a level. The verdict is <strong>drift</strong> when at least "
        f"{summary['share_threshold']:.0%} of the {summary['n_features']} inputs are flagged; "
        f"here {summary['n_drifted']} ({summary['drift_share']:.1%}).</p>"
    )
    if summary["importance_drift_share"] is not None:
        parts.append(
            "<p>Drifted inputs carry "
            f"{summary['importance_drift_share']:.1%} of the model's global importance "
            "(mean |SHAP|, for information).</p>"
        )

    prediction = summary["prediction"]
    parts.append("<h2>Prediction drift (default probability)</h2>")
    if prediction is not None:
        parts.append(
            "<table><caption>Default probability, reference vs current "
            f"({e(prediction['source'])})</caption><thead><tr>"
            + "".join(f"<th scope='col'>{h}</th>" for h in PREDICTION_HEADERS)
            + "</tr></thead><tbody><tr>"
            + "".join(f"<td>{_fmt(prediction[k], 4)}</td>" for k in PREDICTION_KEYS)
            + "</tr></tbody></table>"
        )
        png = _numeric_plot(
            "P(default)",
            "Default probability: reference vs current",
            result.reference_scores,
            result.current_scores,
        )
        alt = (
            f"Histogram of the default probability, reference (mean "
            f"{_fmt(prediction['reference_mean'], 4)}) vs current (mean "
            f"{_fmt(prediction['current_mean'], 4)}); PSI {_fmt(prediction['psi'])}, "
            f"{'drifted' if prediction['drifted'] else 'not drifted'}."
        )
        parts.append(
            f"<figure><img src='data:image/png;base64,{png}' alt='{e(alt)}'>"
            f"<figcaption>{e(alt)}</figcaption></figure>"
        )

    parts.append(
        "<h2>Every model input</h2><table><caption>Inputs, drifted first, then by the "
        "model's importance</caption><thead><tr>"
        + "".join(f"<th scope='col'>{h}</th>" for h in FEATURE_HEADERS)
        + "</tr></thead><tbody>"
    )
    for f in features:
        parts.append(
            f"<tr class='{'drifted' if f['drifted'] else ''}'>"
            f"<th scope='row'>{e(f['name'])}</th><td class='text'>{e(f['label'])}</td>"
            f"<td class='text'>{f['kind']}</td><td class='text'>{_effect_text(f)}</td>"
            f"<td>{_fmt(f['p_value'])}</td><td>{_fmt(f['p_adjusted'])}</td>"
            f"<td>{_fmt(f['psi'])}</td><td>{_fmt(f['missing_reference'])}</td>"
            f"<td>{_fmt(f['missing_current'])}</td><td>{_fmt(f['importance_rank'])}</td>"
            f"<td>{_fmt(f['drifted'])}</td></tr>"
        )
    parts.append("</tbody></table>")

    chosen = [f for f in features if f["drifted"]]
    chosen += sorted(
        (f for f in features if not f["drifted"] and f["importance_rank"] is not None),
        key=lambda f: f["importance_rank"],
    )
    chosen = chosen[: max(config.max_plots, sum(f["drifted"] for f in features))]
    parts.append(
        "<h2>Distributions</h2><p>Every drifted input, then the most important ones. "
        "Reference: blue, hatched; current: orange, dashed.</p>"
    )
    for f in chosen:
        name, kind = f["name"], f["kind"]
        ref_values = comparable(name, kind, result.reference.column(name))
        cur_values = comparable(name, kind, result.current.column(name))
        status = "drifted" if f["drifted"] else "not drifted"
        title = f"{name} — {f['label']} ({status})"
        if kind == "numeric":
            png = _numeric_plot(name, title, ref_values, cur_values)
        else:
            png = _categorical_plot(name, title, ref_values, cur_values)
        alt = (
            f"{'Histogram' if kind == 'numeric' else 'Bar chart of level shares'} of {name} "
            f"({f['label_en']}), reference vs current: {_effect_text(f)}, PSI {_fmt(f['psi'])}, "
            f"missing {_fmt(f['missing_reference'])} vs {_fmt(f['missing_current'])}; {status}."
        )
        parts.append(
            f"<figure><img src='data:image/png;base64,{png}' alt='{e(alt)}'>"
            f"<figcaption>{e(alt)}</figcaption></figure>"
        )
    parts.append(
        f"<footer><p>Generated {e(summary['generated_at'])} by <code>creditscore drift</code>."
        "</p></footer></main></body></html>"
    )
    return "\n".join(parts)
