"""Why this score: every factor's effect in percentage points, as a chart and as tables.

The reasons themselves (the few factors that weigh most towards the decision) are in the
decision banner (:mod:`dashboard.verdict`); this tab shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import charts
from dashboard.api import ApiError
from dashboard.i18n import Lang, percent, signed_points, t
from dashboard.panels import WARN, error_message, note, show_chart
from dashboard.widgets import KEPT

#: Features listed one by one in an explanation (the experts' table); factors are all there.
EXPLANATION_TOP = 15
#: Factors in a chart unless the advisor asks for more: the "why" slider starts there, a new
#: applicant's chart and a "what if" comparison show that many.
FACTORS_SHOWN = 10


def factors_view(explanation: Mapping[str, Any], lang: Lang, key: str, shown: int) -> None:
    """Factors' effects in points (chart), from the average risk to the client's."""
    st.markdown(
        t(
            "why_base",
            lang,
            base=percent(float(explanation["base_probability"]), lang),
            total=signed_points(float(explanation["points_total"]), lang),
            prob=percent(float(explanation["probability"]), lang),
        )
    )
    items = list(explanation.get("factors") or [])[:shown]
    show_chart(charts.factors(items, lang), key=f"why-{key}")


def factor_table(explanation: Mapping[str, Any], lang: Lang) -> None:
    """Every factor with the values it rests on and its effect (the chart, as a table)."""
    st.table(
        [
            {
                t("col_factor", lang): f"{charts.arrow(str(f['direction']))} {f['label']}",
                t("col_values", lang): f.get("value") or "—",
                t("col_effect", lang): signed_points(float(f["points"]), lang),
            }
            for f in explanation.get("factors") or []
        ],
        hide_index=True,
    )


def why_panel(client_id: int, explanation: Any, lang: Lang) -> None:
    """Why this score: every factor in points; the reasons themselves are in the banner."""
    st.subheader(t("why_title", lang))
    if isinstance(explanation, ApiError):
        st.error(error_message(explanation, lang), icon=WARN)
        return
    n_factors = len(explanation.get("factors") or [])
    shown = n_factors
    if n_factors > 5:
        shown = st.slider(
            t("why_top", lang),
            5,
            n_factors,
            min(FACTORS_SHOWN, n_factors),
            key=f"why-top-{client_id}",
            persist_state=KEPT,
        )
    factors_view(explanation, lang, str(client_id), shown)
    note(t("why_method", lang, base=percent(float(explanation["base_probability"]), lang)))
    with st.expander(t("why_all", lang)):
        factor_table(explanation, lang)
    with st.expander(t("why_features", lang)):
        st.table(
            [
                {
                    t("col_variable", lang): c["label"],
                    t("col_value", lang): c.get("value") or "—",
                    t("col_effect", lang): signed_points(float(c.get("points") or 0.0), lang),
                }
                for c in explanation.get("contributions") or []
            ],
            hide_index=True,
        )
