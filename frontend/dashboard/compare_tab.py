"""The client among reference clients: distributions, two features together, similar clients.

Distributions are drawn within a group the advisor narrows; the most similar clients sit
beside the clients with a similar score.

The group filters (their names and levels) are the API's (``GET /inputs``, ``groups``); the
dashboard only holds their titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import streamlit as st

from dashboard import api, charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, has_text, number, percent, t, value_text
from dashboard.panels import WARN, guarded, note, show_chart
from dashboard.widgets import KEPT, lang_key

#: Features compared at first (the advisor picks others).
DEFAULT_COMPARED = ("EXT_SOURCE_MEAN", "AGE_YEARS", "CREDIT_INCOME_RATIO", "ANNUITY_INCOME_RATIO")
#: The score's main factors whose features the similar clients' medians are shown for.
SIMILAR_TOP_FACTORS = 5


def filter_title(group: Mapping[str, Any], lang: Lang) -> str:
    """A group filter's title: the dashboard's words, or the API's label for a new one."""
    key = f"filter_{group['name']}"
    return t(key, lang) if has_text(key) else str(group.get("label") or group["name"])


def _filter_choice(
    title: str, own: str | None, levels: Mapping[str, str], lang: Lang, key: str
) -> str | None:
    """All clients, the client's own level, or any level of one group dimension."""
    options: list[str | None] = [None, "same", *levels] if own else [None, *levels]

    def text(value: str | None) -> str:
        if value is None:
            return t("filter_all", lang)
        if value == "same":
            return f"{t('filter_same', lang)} ({levels.get(str(own), str(own))})"
        return levels.get(value, value)

    widget_key, _ = lang_key(key, lang)  # the first option (all clients) is the default
    return st.selectbox(
        title,
        options,
        format_func=text,
        key=widget_key,
        placeholder=t("choose", lang),
        persist_state=KEPT,
    )


def group_filters(client_id: int, details: Mapping[str, Any], lang: Lang) -> dict[str, str]:
    """The advisor's choice on each of the API's group filters (only those narrowed)."""
    groups: Sequence[Mapping[str, Any]] = api.inputs(lang).get("groups") or []
    if not groups:  # an API without group filters: every reference client
        return {}
    own: Mapping[str, str | None] = details.get("groups", {})
    st.markdown(f"**{t('compare_group', lang)}**", help=t("compare_group_help", lang))
    filters: dict[str, str] = {}
    for column, group in zip(st.columns(len(groups)), groups, strict=True):
        name = str(group["name"])
        levels = {level["value"]: level["text"] for level in group["levels"]}
        with column:
            chosen = _filter_choice(
                filter_title(group, lang),
                own.get(name),
                levels,
                lang,
                key=f"filter-{name}-{client_id}",
            )
        if chosen:
            filters[name] = chosen
    return filters


def compare_panel(client_id: int, details: Mapping[str, Any], explanation: Any, lang: Lang) -> None:
    """The client among reference clients: distributions, two features together, similar."""
    st.subheader(t("compare_title", lang))
    # The similar clients do not depend on the filters: asked at once, beside the rest.
    nearby = api.in_background(api.similar, client_id, lang)
    filters = group_filters(client_id, details, lang)
    try:
        everything = api.comparison(client_id, lang, [], filters)
    except ApiError as error:
        if error.code != "group_too_small":
            raise
        st.warning(t("err_group_too_small", lang), icon=WARN)
        filters = {}  # compare with every reference client instead
        everything = api.comparison(client_id, lang, [], filters)
    group = everything["group"]
    st.markdown(
        t(
            "group_size",
            lang,
            size=number(group["size"], lang),
            defaulted=number(group["by_class"]["defaulted"], lang),
            rate=percent(group["default_rate"], lang),
        )
    )
    by_name = {f["feature"]: f for f in everything["features"]}
    labels = {name: f["label"] for name, f in by_name.items()}
    features_key, carried = lang_key(f"compare-features-{client_id}", lang)
    chosen_features = st.multiselect(
        t("compare_features", lang),
        list(by_name),
        default=None if carried else [f for f in DEFAULT_COMPARED if f in by_name][:3],
        format_func=lambda name: labels[name],
        key=features_key,
        placeholder=t("choose_many", lang),
        persist_state=KEPT,
    )
    class_sizes = {str(k): int(v) for k, v in group["by_class"].items()}
    for name in chosen_features:
        feature = by_name[name]
        value, pct = feature.get("client_value"), feature.get("percentile")
        if value is None or pct is None:
            st.markdown(t("percentile_missing", lang, label=feature["label"]))
        else:
            st.markdown(
                t(
                    "percentile",
                    lang,
                    label=feature["label"],
                    value=value_text(float(value), feature.get("unit"), lang, name),
                    pct=percent(float(pct) / 100, lang, 0),
                )
            )
        show_chart(charts.distribution(feature, lang, class_sizes), key=f"dist-{client_id}-{name}")
        missing = feature["missing"]
        if missing["repaid"] or missing["defaulted"]:
            note(
                t(
                    "missing_note",
                    lang,
                    repaid="< 5" if missing["repaid"] is None else number(missing["repaid"], lang),
                    defaulted="< 5"
                    if missing["defaulted"] is None
                    else number(missing["defaulted"], lang),
                )
            )
    note(
        t(
            "share_note",
            lang,
            repaid=number(class_sizes.get("repaid", 0), lang),
            defaulted=number(class_sizes.get("defaulted", 0), lang),
        )
    )
    note(t("hidden_cells", lang, n=everything["min_cell_count"]))

    st.subheader(t("bivariate_title", lang))
    names = list(by_name)
    left, right = st.columns(2)
    x_key, x_carried = lang_key(f"biv-x-{client_id}", lang)
    y_key, y_carried = lang_key(f"biv-y-{client_id}", lang)
    x = left.selectbox(
        t("bivariate_x", lang),
        names,
        index=0 if x_carried or "AMT_CREDIT" not in names else names.index("AMT_CREDIT"),
        format_func=lambda n: labels[n],
        key=x_key,
        persist_state=KEPT,
    )
    y = right.selectbox(
        t("bivariate_y", lang),
        names,
        index=0 if y_carried else names.index("AGE_YEARS") if "AGE_YEARS" in names else 1,
        format_func=lambda n: labels[n],
        key=y_key,
        persist_state=KEPT,
    )
    if x != y:
        show_chart(
            charts.bivariate(api.bivariate(client_id, lang, x, y, filters), lang),
            key=f"biv-{client_id}",
        )
        note(t("rate_masked_note", lang))
    top_factors = (
        [str(f["factor"]) for f in explanation.get("factors", [])[:SIMILAR_TOP_FACTORS]]
        if isinstance(explanation, Mapping)
        else []
    )
    guarded(lang, similar_panel, client_id, by_name, top_factors, lang, nearby)


def similar_panel(
    client_id: int,
    features: Mapping[str, Any],
    top_factors: Sequence[str],
    lang: Lang,
    asked: Future[Any] | None = None,
) -> None:
    """The k most similar reference clients, in aggregate, beside what the score measures.

    Their default rate sits next to the observed default rate of reference clients with a
    similar score, and the API says in one sentence why the two may differ. The medians are
    shown beside the client's own values, for the features tied to the score's main factors.
    ``asked``: the answer, already asked for (else it is asked here).
    """
    answer = api.similar(client_id, lang) if asked is None else asked.result()
    st.subheader(t("similar_title", lang))
    rate = t("col_default_rate", lang)
    who = t("col_clients", lang)
    rows = [
        {
            who: t("similar_neighbours", lang, k=answer["k"]),
            rate: percent(answer["default_rate"], lang),
        }
    ]
    score_bin = answer.get("score_bin")
    if score_bin:
        rows.append(
            {
                who: t(
                    "similar_bin",
                    lang,
                    n=number(float(score_bin["n_clients"]), lang),
                    lower=percent(float(score_bin["lower"]), lang),
                    upper=percent(float(score_bin["upper"]), lang),
                ),
                rate: percent(float(score_bin["default_rate"]), lang),
            }
        )
    else:
        rows.append({who: t("similar_no_bin", lang), rate: "—"})
    rows.append(
        {who: t("similar_all", lang), rate: percent(answer["reference_default_rate"], lang)}
    )
    if answer.get("probability") is not None:
        rows.append(
            {who: t("similar_score", lang), rate: percent(float(answer["probability"]), lang)}
        )
    st.table(rows, hide_index=True)
    if answer.get("explanation"):
        st.markdown(f":material/info: {answer['explanation']}")

    medians: Mapping[str, Any] = answer.get("medians") or {}
    own: Mapping[str, Any] = answer.get("client_values") or {}
    factor_of: Mapping[str, str] = answer.get("factors") or {}
    names = [n for n in medians if factor_of.get(n) in set(top_factors)]
    if not names:  # none of the main factors is summarised: show every feature
        names = list(medians)
    st.markdown(f"**{t('similar_medians', lang)}**")
    if len(names) < len(medians):
        note(t("similar_medians_top", lang))
    table = []
    for name in names:
        feature = features.get(name, {})
        unit = feature.get("unit")
        mine, theirs = own.get(name), medians[name]
        table.append(
            {
                t("feature", lang): feature.get("label", name),
                t("col_client", lang): value_text(
                    None if mine is None else float(mine), unit, lang, name
                ),
                t("col_median", lang): value_text(
                    None if theirs is None else float(theirs), unit, lang, name
                ),
            }
        )
    st.table(table, hide_index=True)
