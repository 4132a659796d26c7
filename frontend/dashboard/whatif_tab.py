"""What if: the main fields of a client's file edited, the score, its band and what moved.

A refused file lists the changes the model would accept (from the counterfactual answer);
each can be simulated in one click.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard import api, charts, forms
from dashboard.api import ApiError
from dashboard.i18n import Lang, percent, points, signed_points, t
from dashboard.panels import WARN, error_message, show_chart
from dashboard.simulation import explained, simulate
from dashboard.verdict import score_view, verdict_view
from dashboard.why_tab import FACTORS_SHOWN


def factor_changes(
    before: Any, after: Mapping[str, Any], limit: int = FACTORS_SHOWN
) -> list[dict[str, Any]]:
    """The ``limit`` main factors of a file and its simulation, and the change of each.

    Matched by factor key; "main" is the larger of the two effects, so that a factor that
    weighed on the file and no longer does is still listed. ``before`` may be an error (the
    file's explanation could not be had): the changes are then unknown (None).
    """
    known = isinstance(before, Mapping)
    old = {f["factor"]: float(f["points"]) for f in before.get("factors", [])} if known else {}
    rows = []
    for item in after.get("factors") or []:
        new = float(item["points"])
        previous = old.get(item["factor"], 0.0) if known else None
        rows.append(
            {
                "factor": item["factor"],
                "label": item["label"],
                "direction": item.get("direction"),
                "before": previous,
                "after": new,
                "change": None if previous is None else new - previous,
            }
        )
    rows.sort(key=lambda row: -max(abs(row["after"]), abs(row["before"] or 0.0)))
    return rows[:limit]


def factor_changes_view(before: Any, after: Mapping[str, Any], lang: Lang, key: str) -> None:
    """The main factors' effects on file and simulated, in points, and their change."""
    rows = factor_changes(before, after)
    st.markdown(f"**{t('whatif_factors', lang, n=len(rows))}**")
    if isinstance(before, ApiError):
        st.markdown(f"{WARN} {error_message(before, lang)}")
    else:
        show_chart(charts.factor_changes(rows, lang), key=f"changes-{key}")

    def shown(value: float | None) -> str:
        return "—" if value is None else signed_points(value, lang)

    st.table(
        [
            {
                t("col_factor", lang): row["label"],
                t("col_file", lang): shown(row["before"]),
                t("col_simulated", lang): shown(row["after"]),
                t("col_change", lang): shown(row["change"]),
            }
            for row in rows
        ],
        hide_index=True,
    )


def whatif_panel(
    client_id: int,
    score: Mapping[str, Any],
    explanation: Any,
    counterfactual: Any,
    lang: Lang,
) -> None:
    """Edit the main fields of the file and see the score, its band and what moved.

    A refused file lists the changes the model would accept (from the counterfactual
    answer); each can be simulated in one click.
    """
    st.subheader(t("whatif_title", lang))
    st.markdown(t("whatif_intro", lang))
    original = api.application(client_id)["application"]
    results: dict[int, Any] = st.session_state.setdefault("whatif-results", {})
    versions: dict[int, int] = st.session_state.setdefault("whatif-version", {})
    bases: dict[int, dict[str, Any]] = st.session_state.setdefault("whatif-base", {})
    options = (
        counterfactual.get("options") or []
        if isinstance(counterfactual, Mapping) and counterfactual.get("needed")
        else []
    )
    if options:  # before the form: a click sets the form's values in this very run
        st.markdown(f"**:material/lightbulb: {t('cf_options', lang)}**")
        for n, option in enumerate(options):
            text, button = st.columns([4, 1], vertical_alignment="center")
            text.markdown(f"{n + 1}. {option['sentence']}")
            if button.button(t("cf_try", lang), key=f"cf-try-{client_id}-{n}"):
                proposal = dict(original)
                proposal.update({c["field"]: c["proposed"] for c in option["changes"]})
                bases[client_id] = proposal
                versions[client_id] = versions.get(client_id, 0) + 1
                results.pop(client_id, None)
                result = simulate(proposal, lang)
                if result is not None:
                    results[client_id] = result
    version = versions.get(client_id, 0)
    problems: list[str] = []
    with st.form(f"whatif-{client_id}", enter_to_submit=False):
        edited = forms.application_form(
            forms.WHATIF_FIELDS,
            bases.get(client_id, original),
            key=f"whatif-{client_id}-{version}",
            lang=lang,
            problems=problems,
        )
        run = st.form_submit_button(t("whatif_run", lang), type="primary")
    if st.button(t("whatif_reset", lang), key=f"whatif-reset-{client_id}"):
        versions[client_id] = version + 1
        bases.pop(client_id, None)
        results.pop(client_id, None)
        st.rerun()
    if run and problems:
        st.warning(t("fix_fields", lang, fields=", ".join(problems)), icon=WARN)
    elif run:
        results.pop(client_id, None)
        outcome = simulate(edited, lang)
        if outcome is not None:
            results[client_id] = outcome
    result = results.get(client_id)
    if result is None:
        return
    st.markdown(f"### {t('whatif_result', lang)}")
    changed = forms.changed_fields(original, result["application"], lang)
    st.markdown(
        t("whatif_changed", lang, fields=", ".join(changed))
        if changed
        else t("whatif_nochange", lang)
    )
    before, after = float(score["probability"]), float(result["score"]["probability"])
    sign = "+" if after >= before else "−"
    st.markdown(
        t(
            "whatif_delta",
            lang,
            delta=f"{sign}{points(after - before, lang)}",
            before=percent(before, lang),
            after=percent(after, lang),
        )
    )
    verdict_view(result["score"], None, None, lang, key=f"whatif-{client_id}", level=4)
    score_view(result["score"], lang, key=f"whatif-{client_id}")
    factor_changes_view(explanation, explained(result, lang), lang, key=f"whatif-{client_id}")
