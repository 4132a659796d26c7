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
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.i18n import (
    Lang,
    axis_text,
    chart_separators,
    colon,
    nice_ticks,
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
#: decision banner's left rule.
DARK_VERMILLION = "#B34D00"
DARK_AMBER = "#8A5A00"
#: The gauge's threshold mark touches the three zone tints and the dark value bar: this
#: vermillion is at least 3.2:1 against each of them and white (WCAG 1.4.11), where a darker
#: one would vanish against the bar.
THRESHOLD_MARK = "#C45500"
#: Hidden counts (privacy): hatched mid grey, 4.5:1 on white.
MASKED = "#767676"
MASK_HATCH = "x"
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
                "threshold": {  # on the zones' tints and the bar: at least 3:1 on each
                    "line": {"color": THRESHOLD_MARK, "width": 6},
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
    if zone:  # the amber zone is named in words too, not by its colour alone; on a line of
        # its own, under the two others, so that none overlaps them on a narrow screen
        fig.add_annotation(
            x=0.5,
            y=-0.12,
            xanchor="center",
            text=f"{t('zone_borderline', lang)}{colon(lang)}"
            f"{percent(lower, lang)} – {percent(upper, lang)}",
            showarrow=False,
            font={"color": INK, "size": 14},
        )
    _layout(fig, t("probability", lang), lang, height=330)
    # Room for the tick labels at both ends and the zone names below (no clipping at 200 %).
    fig.update_layout(margin={"l": 36, "r": 36, "t": 60, "b": 40 if zone else 16})
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
    _labels_above_bars(fig, fig.data[0].y)
    _layout(fig, t("why_title", lang), lang, height=max(300, ROW_HEIGHT * len(items) + 130))
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
    _labels_above_bars(fig, fig.data[0].y)
    _layout(fig, t("whatif_title", lang), lang, height=max(260, ROW_HEIGHT * len(rows) + 130))
    if ordered:
        largest = ordered[-1]
        first = f"{largest['label']} ({signed_points(float(largest['change']), lang)})"
    else:
        first = t("why_none", lang)
    return fig, t("whatif_alt", lang, n=len(rows), first=first)


#: Pixels a factor takes: its name on a line above its bar, so that a narrow screen (400 %
#: zoom: 340 CSS pixels) leaves the names whole instead of squeezing them beside the bars.
ROW_HEIGHT = 62
#: Characters of a factor's name on one line above its bar.
LABEL_WRAP = 34


def wrap(text: str, width: int = LABEL_WRAP) -> str:
    """``text`` broken into lines of at most ``width`` characters, for plotly (``<br>``)."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _labels_above_bars(fig: go.Figure, categories: Sequence[str]) -> None:
    """Write each bar's name above it, across the chart's width, instead of beside it."""
    fig.update_yaxes(showticklabels=False, automargin=False)
    for category in categories:
        fig.add_annotation(
            x=0,
            xref="paper",
            xanchor="left",
            y=category,
            yref="y",
            yanchor="bottom",
            yshift=14,
            text=wrap(category.rstrip("\u200b")),
            align="left",
            showarrow=False,
            font={"color": INK, "size": 14},
        )


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
        textfont={"color": INK},
        cliponaxis=False,
        width=0.42,
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


def class_shares(counts: Sequence[int | None], class_size: int | None) -> list[float | None]:
    """Each bin's share (%) of the whole class: its count over every client of the class.

    The class size counts hidden bins and missing values too; dividing by the visible bins
    only would inflate every share (a bin would read 40 % where the class holds at most 15 %).
    Hidden bins stay None. Without a class size, the published counts are the best total.
    """
    total = class_size or sum(c for c in counts if c is not None)
    return [None if c is None or total <= 0 else 100 * c / total for c in counts]


def bin_ranges(
    edges: Sequence[float], unit: str | None, lang: Lang, feature: str | None
) -> list[str]:
    """Each bin as people read it: "200 k€ – 400 k€" (for the hover)."""
    return [
        f"{axis_text(a, unit, lang, feature)} – {axis_text(b, unit, lang, feature)}"
        for a, b in itertools.pairwise(edges)
    ]


def _ticks(
    edges: Sequence[float], unit: str | None, lang: Lang, feature: str | None
) -> dict[str, Any]:
    """Axis ticks written like the texts: "200 k€", "4,5 fois", "15 %"."""
    values = nice_ticks(edges[0], edges[-1], 5) if edges else []
    return {
        "tickmode": "array",
        "tickvals": values,
        "ticktext": [axis_text(v, unit, lang, feature) for v in values],
    }


def distribution(
    feature: Mapping[str, Any], lang: Lang, class_sizes: Mapping[str, int] | None = None
) -> tuple[go.Figure, str]:
    """Histograms (share of each class) of repaid and defaulted clients, the client marked.

    ``class_sizes`` (the group's ``by_class``): every share is a bin's count over all the
    clients of its class. A hidden bin (a count the API does not publish) is a hatched grey
    band "< 5" across the chart, never a bar of zero.
    """
    edges = [float(e) for e in feature["bin_edges"]]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    name, unit = feature.get("feature"), feature.get("unit")
    ranges = bin_ranges(edges, unit, lang, name)
    sizes = class_sizes or {}
    fig = go.Figure()
    shares: dict[str, list[float | None]] = {}
    for key, colour, shape in (("repaid", BLUE, ""), ("defaulted", VERMILLION, HATCH)):
        shares[key] = class_shares(feature["counts"][key], sizes.get(key))
        fig.add_trace(
            go.Bar(
                x=centres,
                y=shares[key],
                width=[w * 0.45 for w in widths],
                offset=[(-0.475 if key == "repaid" else 0.025) * w for w in widths],
                name=t(key, lang),
                marker={
                    "color": colour,
                    "pattern": {"shape": shape, "fgcolor": "white"},
                    "line": {"color": INK, "width": 0.5},
                },
                customdata=ranges,
                hovertemplate="%{customdata}: %{y:.1f}"
                + percent_sign(lang)
                + "<extra>"
                + t(key, lang)
                + "</extra>",
            )
        )
    hidden = [
        i
        for i in range(len(centres))
        if feature["counts"]["repaid"][i] is None or feature["counts"]["defaulted"][i] is None
    ]
    top = max([s for values in shares.values() for s in values if s is not None] or [1.0])
    if hidden:
        fig.add_trace(
            go.Bar(
                x=[centres[i] for i in hidden],
                y=[top * 1.05] * len(hidden),
                width=[widths[i] for i in hidden],
                name=t("masked", lang),
                marker={
                    "color": "white",
                    "pattern": {"shape": MASK_HATCH, "fgcolor": MASKED, "solidity": 0.3},
                    "line": {"color": MASKED, "width": 1},
                },
                text=["< 5"] * len(hidden),
                textposition="inside",
                insidetextanchor="start",
                textfont={"color": INK},
                customdata=[ranges[i] for i in hidden],
                hovertemplate="%{customdata}: " + t("masked_hover", lang) + "<extra></extra>",
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
    fig.update_xaxes(title=label, **_ticks(edges, unit, lang, name))
    fig.update_yaxes(title=t("share_of_class", lang), rangemode="tozero")
    _layout(fig, label, lang, height=340)
    pct = feature.get("percentile")
    alt = t(
        "dist_alt",
        lang,
        label=label,
        value=value_text(None if value is None else float(value), unit, lang, name),
        pct="—" if pct is None else f"{float(pct):.0f}",
    )
    return fig, alt


#: A cell's default rate is published only with at least this many defaults and repayments
#: in it: a suppressed count (1 to 4) hides the cell, so a published 0 would be biased
#: (sparse areas would read "0 %" where 1 to 4 defaults were hidden): below it, masked too.
MIN_RATE_COUNT = 5


def cell_rates(counts: Mapping[str, Any]) -> list[list[float | None]]:
    """Default rate (%) of each cell ``[x][y]``; None (masked) unless both counts are >= 5.

    A cell whose count of either class is hidden, or under :data:`MIN_RATE_COUNT`, has no
    rate: masked, never 0 %. Empty cells (no client) are None too.
    """
    rates: list[list[float | None]] = []
    for repaid_row, defaulted_row in zip(counts["repaid"], counts["defaulted"], strict=True):
        row: list[float | None] = []
        for repaid, defaulted in zip(repaid_row, defaulted_row, strict=True):
            if (
                repaid is None
                or defaulted is None
                or repaid < MIN_RATE_COUNT
                or defaulted < MIN_RATE_COUNT
            ):
                row.append(None)
            else:
                row.append(100 * defaulted / (repaid + defaulted))
        rates.append(row)
    return rates


def _masked_cells(
    counts: Mapping[str, Any], rates: list[list[float | None]]
) -> list[tuple[int, int]]:
    """Cells ``(x, y)`` holding clients whose rate is not published (drawn hatched grey)."""
    cells = []
    for i, (repaid_row, defaulted_row) in enumerate(
        zip(counts["repaid"], counts["defaulted"], strict=True)
    ):
        for j, (repaid, defaulted) in enumerate(zip(repaid_row, defaulted_row, strict=True)):
            empty = repaid == 0 and defaulted == 0
            if rates[i][j] is None and not empty:
                cells.append((i, j))
    return cells


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
    rates = cell_rates(answer["counts"])
    shown = [r for row in rates for r in row if r is not None]
    x_units = (x_axis.get("unit"), x_axis.get("feature"))
    y_units = (y_axis.get("unit"), y_axis.get("feature"))
    x_ranges = bin_ranges(x_edges, x_units[0], lang, x_units[1])
    y_ranges = bin_ranges(y_edges, y_units[0], lang, y_units[1])
    x_centres = [(a + b) / 2 for a, b in itertools.pairwise(x_edges)]
    y_centres = [(a + b) / 2 for a, b in itertools.pairwise(y_edges)]
    top = max(shown) if shown else 1.0
    fig = go.Figure(
        go.Heatmap(
            x=x_centres,
            y=y_centres,
            z=[list(column) for column in zip(*rates, strict=True)],
            customdata=[[[xr, yr] for xr in x_ranges] for yr in y_ranges],
            colorscale="Cividis_r",
            zmin=0.0,  # a rate's scale starts at 0: never below, never from the smallest cell
            zmax=max(top, 1.0),
            colorbar={
                "title": {"text": t("default_rate", lang)},
                "ticksuffix": percent_sign(lang),
            },
            hovertemplate=(
                f"{x_axis['label']}: %{{customdata[0]}}<br>{y_axis['label']}: %{{customdata[1]}}"
                f"<br>{t('default_rate', lang)}: %{{z:.1f}}{percent_sign(lang)}<extra></extra>"
            ),
        )
    )
    masked = _masked_cells(answer["counts"], rates)
    if masked:
        fig.add_trace(
            go.Bar(
                x=[x_centres[i] for i, _ in masked],
                y=[y_edges[j + 1] - y_edges[j] for _, j in masked],
                base=[y_edges[j] for _, j in masked],
                width=[x_edges[i + 1] - x_edges[i] for i, _ in masked],
                marker={
                    "color": "white",
                    "pattern": {"shape": MASK_HATCH, "fgcolor": MASKED, "solidity": 0.3},
                    "line": {"color": MASKED, "width": 0.5},
                },
                name=t("masked", lang),
                customdata=[[x_ranges[i], y_ranges[j]] for i, j in masked],
                hovertemplate=(
                    f"{x_axis['label']}: %{{customdata[0]}}<br>{y_axis['label']}: "
                    f"%{{customdata[1]}}<br>{t('rate_masked_hover', lang)}<extra></extra>"
                ),
                showlegend=True,
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
    fig.update_xaxes(title=x_axis["label"], **_ticks(x_edges, x_units[0], lang, x_units[1]))
    fig.update_yaxes(title=y_axis["label"], **_ticks(y_edges, y_units[0], lang, y_units[1]))
    fig.update_layout(barmode="overlay")
    _layout(fig, f"{x_axis['label']} × {y_axis['label']}", lang, height=460)
    alt = t(
        "biv_alt",
        lang,
        x=x_axis["label"],
        y=y_axis["label"],
        xv=value_text(None if xv is None else float(xv), x_units[0], lang, x_units[1]),
        yv=value_text(None if yv is None else float(yv), y_units[0], lang, y_units[1]),
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
