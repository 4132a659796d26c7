"""Interactive charts (plotly) built from API answers, each with its text alternative.

Colour is never the only carrier: bars that raise the risk and defaulted clients are hatched,
the decision zones and the client's marker are named in words, and every function returns a
sentence describing the chart (WCAG 1.1.1 and 1.4.1). The palette is Okabe and Ito's
colour-blind-safe one: blue for "repaid / lowers the risk", vermillion for "defaulted / raises
the risk"; amber for "to review"; text stays dark grey on white (contrast above 4.5:1).
Effects are in percentage points of probability (the API's ``points``), never in log-odds.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.i18n import (
    Lang,
    chart_separators,
    colon,
    percent,
    percent_sign,
    signed_points,
    t,
    value_text,
)

BLUE = "#0072B2"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
ORANGE = "#E69F00"
#: Darker shades for thin graphics on the light tints below (WCAG 1.4.11 asks 3:1): the
#: gauge's threshold marker, the decision banner's left rule.
DARK_VERMILLION = "#B34D00"
DARK_AMBER = "#8A5A00"
INK = "#1F2933"  # text: 14.7:1 on white
GRID = "#D9DEE3"
LIGHT_BLUE = "#CCE3F0"
LIGHT_ORANGE = "#F7D9C4"
LIGHT_AMBER = "#FCE8B2"
HATCH = "/"
FONT = {"family": "Source Sans Pro, Arial, sans-serif", "size": 15, "color": INK}


def _layout(fig: go.Figure, title: str, lang: Lang, height: int = 380) -> go.Figure:
    fig.update_layout(
        separators=chart_separators(lang),
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 17}},
        template="plotly_white",
        font=FONT,
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "x": 1, "xanchor": "right"},
        hoverlabel={"font": {"size": 14}},
    )
    return fig


def gauge(score: Mapping[str, Any], lang: Lang) -> tuple[go.Figure, str]:
    """A gauge of the default probability, the threshold marked and the zones named.

    The zone to review (the model's uncertainty interval around the threshold, from the API)
    is amber between the accept and refuse zones; the decision in the text alternative is
    the API's (its band first: a borderline file is "to review", not accepted or refused).
    """
    probability, threshold = float(score["probability"]), float(score["threshold"])
    interval = score.get("borderline") or {}
    lower = float(interval.get("lower", threshold))
    upper = float(interval.get("upper", threshold))
    top = min(1.0, max(3 * threshold, 1.2 * probability, 1.2 * upper, 0.2))
    decision = t(verdict(score), lang)
    steps = [
        {"range": [0, 100 * lower], "color": LIGHT_BLUE},
        {"range": [100 * upper, 100 * top], "color": LIGHT_ORANGE},
    ]
    zone = ""
    if upper > lower:
        steps.insert(1, {"range": [100 * lower, 100 * upper], "color": LIGHT_AMBER})
        zone = t("gauge_alt_zone", lang, lower=percent(lower, lang), upper=percent(upper, lang))
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=100 * probability,
            number={
                "suffix": percent_sign(lang),
                "valueformat": ".1f",
                "font": {"size": 40, "color": INK},
            },
            gauge={
                "shape": "angular",
                "axis": {
                    "range": [0, 100 * top],
                    "ticksuffix": percent_sign(lang),
                    "tickcolor": INK,
                    "tickfont": {"color": INK},
                },
                "bar": {"color": INK, "thickness": 0.25},
                "steps": steps,
                "threshold": {  # on the zones' tints: at least 3:1 on each
                    "line": {"color": DARK_VERMILLION, "width": 5},
                    "thickness": 0.9,
                    "value": 100 * threshold,
                },
            },
            domain={"x": [0, 1], "y": [0.12, 1]},
        )
    )
    fig.add_annotation(
        x=0.0,
        y=0.0,
        xanchor="left",
        text=f"◀ {t('zone_accept', lang)}",
        showarrow=False,
        font={"color": INK, "size": 14},
    )
    fig.add_annotation(
        x=1.0,
        y=0.0,
        xanchor="right",
        text=f"{t('zone_refuse', lang)} ▶",
        showarrow=False,
        font={"color": INK, "size": 14},
    )
    if zone:  # the amber zone is named in words too, not by its colour alone
        fig.add_annotation(
            x=0.5,
            y=0.0,
            xanchor="center",
            text=f"{t('zone_borderline', lang)}{colon(lang)}"
            f"{percent(lower, lang)} – {percent(upper, lang)}",
            showarrow=False,
            font={"color": INK, "size": 14},
        )
    _layout(fig, t("probability", lang), lang, height=300)
    alt = t(
        "gauge_alt",
        lang,
        prob=percent(probability, lang),
        thr=percent(threshold, lang),
        zone=zone,
        decision=decision,
    )
    return fig, alt


def verdict(score: Mapping[str, Any]) -> str:
    """What the page says of a score: ``borderline`` (the API's band) or the API's decision."""
    return "borderline" if score.get("band") == "borderline" else str(score["decision"])


def arrow(direction: str) -> str:
    """The direction of an effect as a sign that needs no colour."""
    return {"raises": "▲", "lowers": "▼"}.get(direction, "•")


def factors(items: Sequence[Mapping[str, Any]], lang: Lang) -> tuple[go.Figure, str]:
    """Horizontal bars of factors' effects in percentage points, strongest at the top.

    Bars that raise the risk are hatched; each bar is labelled with its arrow, its name and
    its signed effect ("+3,2 pts"); the hover gives the API's sentence.
    """
    ordered = sorted(items, key=lambda item: abs(float(item["points"])))
    values = [float(item["points"]) for item in ordered]
    raising = [item.get("direction") == "raises" for item in ordered]
    fig = go.Figure(
        _points_bars(
            values,
            [f"{arrow(str(item.get('direction')))} {item['label']}" for item in ordered],
            raising,
            lang,
            customdata=[item.get("sentence", "") for item in ordered],
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    fig.update_xaxes(
        title=t("why_axis", lang), zeroline=True, zerolinecolor=INK, range=_room(values)
    )
    fig.update_yaxes(automargin=True)
    _layout(fig, t("why_title", lang), lang, height=max(300, 34 * len(items) + 120))
    n_raise = sum(raising)
    n_lower = sum(item.get("direction") == "lowers" for item in ordered)
    if ordered:
        strongest = ordered[-1]
        first = f"{strongest['label']} ({signed_points(float(strongest['points']), lang)})"
    else:
        first = t("why_none", lang)
    alt = t("why_alt", lang, n=len(items), raise_n=n_raise, lower_n=n_lower, first=first)
    return fig, alt


def factor_changes(rows: Sequence[Mapping[str, Any]], lang: Lang) -> tuple[go.Figure, str]:
    """Change of each factor's effect (points) between a file and its simulation.

    ``rows``: ``{"label", "change"}``, at most a handful; a change that raises the risk is
    hatched and points right.
    """
    ordered = sorted(rows, key=lambda row: abs(float(row["change"])))
    values = [float(row["change"]) for row in ordered]
    raising = [v > 0 for v in values]
    fig = go.Figure(
        _points_bars(
            values,
            [
                f"{arrow('raises' if v > 0 else 'lowers' if v < 0 else '')} {row['label']}"
                for row, v in zip(ordered, values, strict=True)
            ],
            raising,
            lang,
            hoverinfo="skip",
        )
    )
    fig.update_xaxes(
        title=t("whatif_axis", lang), zeroline=True, zerolinecolor=INK, range=_room(values)
    )
    fig.update_yaxes(automargin=True)
    _layout(fig, t("whatif_title", lang), lang, height=max(260, 34 * len(rows) + 120))
    if ordered:
        largest = ordered[-1]
        first = f"{largest['label']} ({signed_points(float(largest['change']), lang)})"
    else:
        first = t("why_none", lang)
    return fig, t("whatif_alt", lang, n=len(rows), first=first)


def _points_bars(
    values: Sequence[float],
    labels: Sequence[str],
    raising: Sequence[bool],
    lang: Lang,
    **hover: Any,
) -> go.Bar:
    """Horizontal bars of effects in points, raising ones hatched, signed values at their end."""
    return go.Bar(
        x=list(values),
        y=unique(labels),
        orientation="h",
        marker={
            "color": [VERMILLION if r else BLUE for r in raising],
            "pattern": {"shape": [HATCH if r else "" for r in raising], "fgcolor": "white"},
            "line": {"color": INK, "width": 0.5},
        },
        text=[signed_points(v, lang) for v in values],
        textposition="outside",
        cliponaxis=False,
        **hover,
    )


def _room(values: Sequence[float], share: float = 0.25) -> list[float]:
    """An axis range leaving room for the words written beyond the longest bar each side."""
    low, high = min([0.0, *values]), max([0.0, *values])
    pad = share * max(high - low, 1e-6)
    return [low - (pad if low < 0 else 0.0), high + (pad if high > 0 else 0.0)]


def unique(labels: Sequence[str]) -> list[str]:
    """Labels made distinct (plotly merges bars with the same category name)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        count = seen.get(label, 0)
        seen[label] = count + 1
        out.append(label + "\u200b" * count)
    return out


def _shares(counts: Sequence[int | None]) -> list[float | None]:
    total = sum(c for c in counts if c is not None)
    return [None if c is None or total == 0 else 100 * c / total for c in counts]


def distribution(feature: Mapping[str, Any], lang: Lang) -> tuple[go.Figure, str]:
    """Histograms (share within class) of repaid and defaulted clients, the client marked."""
    edges = [float(e) for e in feature["bin_edges"]]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    fig = go.Figure()
    for key, colour, shape in (("repaid", BLUE, ""), ("defaulted", VERMILLION, HATCH)):
        fig.add_trace(
            go.Bar(
                x=centres,
                y=_shares(feature["counts"][key]),
                width=widths,
                name=t(key, lang),
                marker={
                    "color": colour,
                    "opacity": 0.75,
                    "pattern": {"shape": shape, "fgcolor": "white"},
                    "line": {"color": INK, "width": 0.3},
                },
                hovertemplate="%{x:.3~g}: %{y:.1f} %<extra>" + t(key, lang) + "</extra>",
            )
        )
    value = feature.get("client_value")
    label = str(feature["label"])
    if value is not None:
        fig.add_vline(
            x=float(value),
            line={"color": INK, "width": 3, "dash": "dash"},
            annotation={"text": f"▼ {t('client_marker', lang)}", "font": {"color": INK}},
            annotation_position="top",
        )
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_xaxes(title=label)
    fig.update_yaxes(title=t("share_of_class", lang))
    _layout(fig, label, lang, height=320)
    pct = feature.get("percentile")
    alt = t(
        "dist_alt",
        lang,
        label=label,
        value=value_text(None if value is None else float(value), feature.get("unit"), lang),
        pct="—" if pct is None else f"{float(pct):.0f}",
    )
    return fig, alt


def _cell_rates(counts: Mapping[str, Any]) -> list[list[float | None]]:
    rates: list[list[float | None]] = []
    for repaid_row, defaulted_row in zip(counts["repaid"], counts["defaulted"], strict=True):
        row: list[float | None] = []
        for repaid, defaulted in zip(repaid_row, defaulted_row, strict=True):
            if repaid is None or defaulted is None or repaid + defaulted == 0:
                row.append(None)
            else:
                row.append(100 * defaulted / (repaid + defaulted))
        rates.append(row)
    return rates


def _bin_of(value: float | None, edges: Sequence[float]) -> int | None:
    if value is None:
        return None
    for index in range(len(edges) - 1):
        if value < edges[index + 1]:
            return index
    return len(edges) - 2


def bivariate(answer: Mapping[str, Any], lang: Lang) -> tuple[go.Figure, str]:
    """Default rate by cell of two features (colour-blind-safe scale), the client as a star.

    The API's grid is indexed [x bin][y bin] (plotly wants [y][x]); cells with a hidden
    count are left blank.
    """
    x_axis, y_axis = answer["x"], answer["y"]
    x_edges = [float(e) for e in x_axis["bin_edges"]]
    y_edges = [float(e) for e in y_axis["bin_edges"]]
    rates = _cell_rates(answer["counts"])
    fig = go.Figure(
        go.Heatmap(
            x=[(a + b) / 2 for a, b in itertools.pairwise(x_edges)],
            y=[(a + b) / 2 for a, b in itertools.pairwise(y_edges)],
            z=[list(column) for column in zip(*rates, strict=True)],
            colorscale="Cividis_r",
            colorbar={"title": {"text": t("default_rate", lang) + " (%)"}},
            hovertemplate=(
                f"{x_axis['label']}: %{{x:.3~g}}<br>{y_axis['label']}: %{{y:.3~g}}"
                f"<br>{t('default_rate', lang)}: %{{z:.1f}} %<extra></extra>"
            ),
        )
    )
    xv, yv = x_axis.get("client_value"), y_axis.get("client_value")
    cell_rate = None
    if xv is not None and yv is not None:
        fig.add_trace(
            go.Scatter(
                x=[xv],
                y=[yv],
                mode="markers+text",
                marker={
                    "symbol": "star",
                    "size": 22,
                    "color": "white",
                    "line": {"color": INK, "width": 2},
                },
                text=[t("client_marker", lang)],
                textposition="top center",
                textfont={"color": INK, "size": 14},
                name=t("client_marker", lang),
                showlegend=False,
            )
        )
        xi, yi = _bin_of(float(xv), x_edges), _bin_of(float(yv), y_edges)
        if xi is not None and yi is not None:
            cell_rate = rates[xi][yi]
    fig.update_xaxes(title=x_axis["label"])
    fig.update_yaxes(title=y_axis["label"])
    _layout(fig, f"{x_axis['label']} × {y_axis['label']}", lang, height=440)
    alt = t(
        "biv_alt",
        lang,
        x=x_axis["label"],
        y=y_axis["label"],
        xv=value_text(None if xv is None else float(xv), x_axis.get("unit"), lang),
        yv=value_text(None if yv is None else float(yv), y_axis.get("unit"), lang),
        rate="—" if cell_rate is None else percent(cell_rate / 100, lang),
    )
    return fig, alt


def importance(features: Sequence[Mapping[str, Any]], lang: Lang) -> tuple[go.Figure, str]:
    """Global importance: mean |TreeSHAP| per feature, the most important at the top."""
    ordered = list(reversed(features))
    fig = go.Figure(
        go.Bar(
            x=[float(f["mean_abs_shap"]) for f in ordered],
            y=unique([str(f["label"]) for f in ordered]),
            orientation="h",
            marker={"color": BLUE, "line": {"color": INK, "width": 0.5}},
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("importance_axis", lang))
    fig.update_yaxes(automargin=True)
    _layout(fig, t("importance_title", lang), lang, height=max(320, 28 * len(features) + 120))
    top = ", ".join(str(f["label"]) for f in features[:3])
    return fig, t("importance_alt", lang, n=len(features), top=top)


def _drift_label(feature: Mapping[str, Any], lang: Lang) -> str:
    label = feature.get("label_en") if lang == "en" else feature.get("label")
    return str(label or feature["name"])


def drift(features: Sequence[Mapping[str, Any]], lang: Lang) -> tuple[go.Figure, str]:
    """PSI of the most changed inputs; drifting ones hatched and named in the hover."""
    ordered = list(reversed(features))
    drifted = [bool(f.get("drifted")) for f in ordered]
    fig = go.Figure(
        go.Bar(
            x=[float(f.get("psi") or 0.0) for f in ordered],
            y=unique([_drift_label(f, lang) for f in ordered]),
            orientation="h",
            marker={
                "color": [VERMILLION if d else BLUE for d in drifted],
                "pattern": {"shape": [HATCH if d else "" for d in drifted], "fgcolor": "white"},
                "line": {"color": INK, "width": 0.5},
            },
            text=[t("drifted" if d else "stable", lang) for d in drifted],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(
        title=t("drift_axis", lang), range=_room([float(f.get("psi") or 0.0) for f in ordered])
    )
    fig.update_yaxes(automargin=True)
    _layout(fig, t("drift_title", lang), lang, height=max(300, 28 * len(features) + 120))
    top = ", ".join(_drift_label(f, lang) for f in features[:3])
    return fig, t("drift_alt", lang, n=len(features), top=top)
