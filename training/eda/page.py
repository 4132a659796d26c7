"""The exploratory report as one self-contained, accessible HTML page (``eda_report.html``).

The approach of the drift report (:mod:`monitoring.report`): no script and nothing fetched,
figures embedded as PNG with a text alternative and a text summary beside each, tables with
captions and header scopes, headings in order (h1, h2, h3, h4), ``lang="en"``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from creditscore_common.features import EMPLOYMENT_ANOMALY_FEATURE
from monitoring.compare import REPORT_FILE as DRIFT_REPORT_FILE
from training.eda.analysis import DRIVERS, Exploration, label, median
from training.eda.figures import Figure
from training.eda.text import count, limit, number, p_value, share

REPORT_FILE = "eda_report.html"
#: Rows of the association tables, and categories whose levels are plotted.
TOP_ASSOCIATIONS = 20
LEVEL_PLOTS = 4
SHIFT_ROWS = 10

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#1a1a1a;line-height:1.45}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:1em 0}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #bbb;padding:.3em .5em;text-align:right}
th[scope=row],td.text{text-align:left}
thead th{background:#eee}
figure{margin:1em 0;max-width:900px}
figcaption{font-size:.95em}
img{max-width:100%;height:auto}
code{background:#f3f3f3;padding:0 .2em}
a{color:#0b57d0}
main{overflow-x:auto}
"""

_SECTIONS = (
    ("data", "The data"),
    ("missing", "Missing values and the columns training drops"),
    ("associations", "Associations with default"),
    ("drivers", "The main drivers, repaid vs defaulted clients"),
    ("anomaly", "The DAYS_EMPLOYED = 365243 anomaly"),
    ("outliers", "Outliers and clipping"),
    ("shift", "Reference vs new clients at a glance"),
    ("method", "How this report was made"),
)

e = html.escape


@dataclass(frozen=True)
class PageFacts:
    """What the page says about its own making."""

    generated_at: str
    command: str
    out_dir: str
    seconds: float
    drift_report_present: bool


def _table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int = 1
) -> str:
    """A table whose first cell of a row is its header; cells are already escaped."""
    head = "".join(f"<th scope='col'>{e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = [f"<th scope='row'>{row[0]}</th>"]
        for i, cell in enumerate(row[1:], start=1):
            kind = " class='text'" if i < text_columns else ""
            cells.append(f"<td{kind}>{cell}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _figure(figure: Figure | None) -> str:
    if figure is None:
        return ""
    data = base64.b64encode(figure.png).decode()
    return (
        f"<figure><img src='data:image/png;base64,{data}' alt='{e(figure.alt)}'>"
        f"<figcaption>{e(figure.summary)}</figcaption></figure>"
    )


def _data_section(x: Exploration) -> str:
    rows = [
        ("reference clients (application_train.csv)", count(x.n_reference)),
        ("new clients (application_test.csv)", count(x.n_new)),
        ("default rate of reference clients (TARGET = 1)", share(x.default_rate, 2)),
        ("application columns (without SK_ID_CURR and TARGET)", count(len(x.missing))),
    ]
    return (
        f"<p>Folder <code>{e(x.data_dir)}</code>, loaded and validated as "
        "<code>creditscore train</code> loads it.</p>"
        + _table("The two files", ("what", "value"), rows)
        + "<p>Every statistic and every figure uses all reference and new clients: nothing is "
        "subsampled.</p>"
    )


def _missing_section(x: Exploration, figures: Mapping[str, Figure]) -> str:
    spec = x.spec
    missing_by_name = {c.name: c.missing_reference for c in x.missing}
    dropped = sorted(
        spec.dropped_columns.items(), key=lambda kv: (-missing_by_name.get(kv[0], 0), kv[0])
    )
    n_one_hot = sum(len(c.features) for c in spec.one_hot)
    parts = [
        "<h3>Missing share per column</h3>",
        _figure(figures.get("missing")) or "<p>No column has missing values.</p>",
        "<h3>Columns the training drops</h3>",
        f"<p>The training's own rule (<code>fit_feature_spec</code>, the function "
        "<code>creditscore train</code> calls) drops a column missing for more than "
        f"{spec.max_missing_rate:.0%} of reference clients, a column holding a single value, and "
        f"every protected attribute. Here it drops {len(dropped)} columns:</p>",
        _table(
            "Columns dropped by training, most missing first",
            ("column", "label", "reason", "missing (reference)"),
            (
                (e(name), e(label(name)), e(reason), share(missing_by_name.get(name, 0.0)))
                for name, reason in dropped
            ),
            text_columns=3,
        ),
        f"<p><strong>{len(spec.features)} model features remain</strong>: "
        f"{len(spec.numeric_columns)} raw number columns (0/1 flags included), the "
        f"<code>{EMPLOYMENT_ANOMALY_FEATURE}</code> flag, {len(spec.derived_features)} derived "
        f"features and {n_one_hot} one-hot levels of {len(spec.one_hot)} categories.</p>",
        "<h3>Every column with missing values</h3>",
        _table(
            "Missing share per column, reference and new clients, most missing first",
            ("column", "label", "missing (reference)", "missing (new)", "dropped by training"),
            (
                (
                    e(c.name),
                    e(label(c.name)),
                    share(c.missing_reference),
                    share(c.missing_new),
                    "yes" if c.dropped_reason else "no",
                )
                for c in x.missing
                if c.missing_reference > 0 or c.missing_new > 0
            ),
            text_columns=2,
        ),
    ]
    return "".join(parts)


def _associations_section(x: Exploration, figures: Mapping[str, Figure]) -> str:
    numeric = x.numeric[:TOP_ASSOCIATIONS]
    categorical = x.categorical[:TOP_ASSOCIATIONS]
    parts = [
        "<p>TARGET is 1 for a client who had payment difficulties. Numbers: point-biserial "
        "correlation (Pearson's r with the 0/1 outcome) and Spearman's rank correlation, on the "
        "clients who have a value (<code>scipy.stats</code>). Categories and 0/1 flags: default "
        "rate per level, missing being a level, and a chi-square test of independence (sparse "
        "levels pooled until every expected count is at least 5); they are ranked by Cramér's "
        "V. With this many clients nearly every p-value is tiny: the size of the effect is "
        "what matters. <code>DAYS_*</code> columns count days before the application "
        "(negative numbers): a positive correlation of <code>DAYS_BIRTH</code> means that "
        "younger clients default more.</p>",
        f"<h3>Numbers: the {len(numeric)} strongest</h3>",
        _figure(figures.get("numeric")),
        _table(
            f"The {len(numeric)} numbers most correlated with default (|point-biserial r|)",
            (
                "column",
                "label",
                "point-biserial r",
                "p-value",
                "Spearman ρ",
                "clients with a value",
            ),
            (
                (
                    e(a.name),
                    e(label(a.name)),
                    number(a.point_biserial),
                    p_value(a.p_value),
                    number(a.spearman),
                    count(a.n_known),
                )
                for a in numeric
            ),
            text_columns=2,
        ),
        f"<h3>Categories: the {len(categorical)} strongest</h3>",
        _figure(figures.get("categorical")),
        _table(
            f"The {len(categorical)} categories most associated with default (Cramér's V)",
            ("column", "label", "levels", "chi²", "p-value", "Cramér's V", "note"),
            (
                (
                    e(a.name),
                    e(label(a.name)),
                    count(len(a.levels)),
                    number(a.chi2),
                    p_value(a.p_value),
                    number(a.cramers_v),
                    "protected: never a model input" if a.protected else "",
                )
                for a in categorical
            ),
            text_columns=2,
        ),
        "<h3>Default rate per level</h3>",
    ]
    parts.extend(_figure(figures.get(f"levels:{a.name}")) for a in categorical[:LEVEL_PLOTS])
    for a in categorical:
        parts.append(f"<h4>{e(a.name)} — {e(label(a.name))}</h4>")
        parts.append(
            _table(
                f"Default rate per level of {a.name}, most frequent level first",
                ("level", "clients", "share of clients", "defaults", "default rate"),
                (
                    (
                        e(lv.level),
                        count(lv.count),
                        share(lv.count / x.n_reference),
                        count(lv.defaults),
                        share(lv.default_rate),
                    )
                    for lv in a.levels
                ),
            )
        )
    return "".join(parts)


def _drivers_section(x: Exploration, figures: Mapping[str, Figure]) -> str:
    parts = [
        "<p>Age and employment length are the application's day counts in years "
        "(<code>-DAYS_BIRTH / 365.25</code>); the ratios are the shared transform's derived "
        "features, computed as the model computes them. Employment length is missing for the "
        "clients with the 365243 anomaly (below). Repaid clients: blue, hatched; defaulted "
        "clients: orange, dashed.</p>",
        _table(
            "Main drivers by outcome",
            (
                "driver",
                "label",
                "median (repaid)",
                "median (defaulted)",
                "default rate, lowest fifth",
                "default rate, highest fifth",
                "missing (repaid)",
                "missing (defaulted)",
            ),
            (
                (
                    e(d.name),
                    e(label(d.name)),
                    number(median(d.repaid)),
                    number(median(d.defaulted)),
                    share(d.rate_low),
                    share(d.rate_high),
                    share(d.missing_repaid),
                    share(d.missing_defaulted),
                )
                for d in x.drivers
            ),
            text_columns=2,
        ),
    ]
    parts.extend(_figure(figures.get(f"driver:{name}")) for name in DRIVERS)
    return "".join(parts)


def _anomaly_section(x: Exploration) -> str:
    a = x.anomaly
    treated = (
        f"The transform sets it to missing and adds the 0/1 feature "
        f"<code>{EMPLOYMENT_ANOMALY_FEATURE}</code>, which flags {count(a.n_flagged)} reference "
        "clients"
        + (
            ", a model input."
            if a.flag_is_model_feature
            else " (it is not among this training's features)."
        )
    )
    return "".join(
        [
            f"<p><code>DAYS_EMPLOYED</code> counts the days of the current employment before the "
            f"application (negative). The value 365243 (a thousand years ahead) marks clients "
            f"with no employment: <strong>{count(a.n_anomaly)} reference clients "
            f"({share(a.n_anomaly / max(a.n_reference, 1))})</strong> and {count(a.n_new_anomaly)}"
            f" new clients ({share(a.n_new_anomaly / max(a.n_new, 1))}). {treated} Employment "
            "length and the employed/age ratio are then missing for them, never a huge "
            "number.</p>",
            _table(
                "Who has the anomaly: income types (reference clients)",
                (
                    "income type",
                    "clients with the anomaly",
                    "clients of this type",
                    "share of the type",
                ),
                (
                    (e(kind), count(n), count(total), share(n / total))
                    for kind, n, total in a.by_income_type
                ),
            ),
            _table(
                "Default rate: anomaly vs every other reference client",
                ("group", "clients", "defaults", "default rate"),
                [
                    (
                        "DAYS_EMPLOYED = 365243",
                        count(a.n_anomaly),
                        count(a.defaults_anomaly),
                        share(a.rate_anomaly, 2),
                    ),
                    (
                        "others",
                        count(a.n_reference - a.n_anomaly),
                        count(a.defaults_others),
                        share(a.rate_others, 2),
                    ),
                ],
            ),
            f"<p>Chi-square test of equal default rates: p = {p_value(a.p_value)}.</p>",
        ]
    )


def _outliers_section(x: Exploration, figures: Mapping[str, Figure], n_plots: int) -> str:
    spec = x.spec
    low, high = spec.clip_quantiles
    clipped = [o for o in x.outliers if o.share > 0]
    parts = [
        f"<p>Training learns clipping limits for every number feature with more than two "
        f"values: its {low:.1%} and {high:.1%} quantiles on the reference clients "
        f"(<code>spec.clip_limits</code>, {len(x.outliers)} features). A value beyond a limit is "
        f"set to the limit; a missing value stays missing. {len(clipped)} features have clipped "
        f"clients. The share counts all reference clients and is measured in float32, the "
        "precision the model reads: a client counts when clipping changes the number the "
        f"model sees. The {n_plots} most affected features, before and after:</p>",
    ]
    parts.extend(_figure(figures.get(f"clipping:{o.name}")) for o in x.outliers[:n_plots])
    parts.append(
        _table(
            "Clipping limits and the share of reference clients beyond them, most affected first",
            (
                "feature",
                "label",
                "lower limit",
                "upper limit",
                "below",
                "above",
                "share clipped",
                "minimum",
                "maximum",
            ),
            (
                (
                    e(o.name),
                    e(label(o.name)),
                    limit(o.lower),
                    limit(o.upper),
                    count(o.n_below),
                    count(o.n_above),
                    share(o.share, 2),
                    limit(o.minimum),
                    limit(o.maximum),
                )
                for o in x.outliers
            ),
            text_columns=2,
        )
    )
    return "".join(parts)


def _shift_section(x: Exploration, facts: PageFacts) -> str:
    rows = x.shifts[:SHIFT_ROWS]
    presence = (
        f"It is in this folder: <a href='{DRIFT_REPORT_FILE}'>open the drift report</a>."
        if facts.drift_report_present
        else f"It is not in this folder yet; once written there, <a href='{DRIFT_REPORT_FILE}'>"
        "this link</a> opens it."
    )
    return "".join(
        [
            "<p>Each column compared as the drift report compares it (<code>monitoring.stats"
            "</code>): PSI over 10 reference-quantile bins plus a missing bin (numbers) or over "
            "the levels (categories), the Kolmogorov-Smirnov statistic D (numbers) or the "
            "Jensen-Shannon distance (categories). PSI below 0.1 is usually read as no shift, "
            "0.1–0.25 as some, above 0.25 as a large one.</p>",
            _table(
                f"The {len(rows)} columns whose distribution differs most (PSI)",
                (
                    "column",
                    "label",
                    "kind",
                    "PSI",
                    "statistic",
                    "missing (reference)",
                    "missing (new)",
                    "model input",
                ),
                (
                    (
                        e(s.name),
                        e(label(s.name)),
                        s.kind,
                        number(s.psi),
                        f"{s.statistic_name} {number(s.statistic)}",
                        share(s.missing_reference),
                        share(s.missing_new),
                        "yes" if s.model_input else "no",
                    )
                    for s in rows
                ),
                text_columns=3,
            ),
            "<p>The drift report tests every model input, corrects the p-values together and "
            "gives a verdict. Produce it in the same folder as this report with "
            f"<code>creditscore drift --data {e(x.data_dir)} --model ARTDIR/latest --out "
            f"{e(facts.out_dir)}</code> (a trained model version is needed). {presence}</p>",
        ]
    )


def _method_section(facts: PageFacts) -> str:
    return (
        f"<p>Made by <code>{e(facts.command)}</code> on {e(facts.generated_at)} in "
        f"{facts.seconds:.1f} s (loading, statistics and figures). The files are read and "
        "validated by <code>training.data</code>, the columns dropped and the clipping limits "
        "come from <code>fit_feature_spec</code>, the numbers are computed by the shared "
        "feature transform, and the comparison of reference and new clients uses "
        "<code>monitoring.stats</code>: what this report shows is what training does. Every "
        "figure is also a PNG file beside this page.</p>"
    )


def render_html(
    x: Exploration, figures: Mapping[str, Figure], facts: PageFacts, n_clipping_plots: int
) -> str:
    """The whole page."""
    title = f"Exploratory data analysis — {x.data_dir}"
    bodies = {
        "data": _data_section(x),
        "missing": _missing_section(x, figures),
        "associations": _associations_section(x, figures),
        "drivers": _drivers_section(x, figures),
        "anomaly": _anomaly_section(x),
        "outliers": _outliers_section(x, figures, n_clipping_plots),
        "shift": _shift_section(x, facts),
        "method": _method_section(facts),
    }
    contents = "".join(f"<li><a href='#{key}'>{e(name)}</a></li>" for key, name in _SECTIONS)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{e(title)}</h1>",
        f"<p>{count(x.n_reference)} reference clients ({share(x.default_rate, 2)} defaulted) and "
        f"{count(x.n_new)} new clients.</p>",
        f"<nav aria-label='Contents'><ol>{contents}</ol></nav>",
    ]
    for key, name in _SECTIONS:
        parts.append(f"<section aria-labelledby='{key}'><h2 id='{key}'>{e(name)}</h2>")
        parts.append(bodies[key])
        parts.append("</section>")
    parts.append(
        f"<footer><p>Generated {e(facts.generated_at)} by <code>creditscore eda</code>.</p>"
        "</footer></main></body></html>"
    )
    return "\n".join(parts)
