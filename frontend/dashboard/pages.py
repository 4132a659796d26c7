"""The dashboard's pages: one function a panel, in the order of an advisor's journey.

Client file: find a client; the decision first (accept, refuse, or to review when the score
lies in the model's uncertainty zone), its main reasons in percentage points and, for a
refusal, the smallest change that would get an accept; then the summary card, the score in
detail, why, compare, what if, and the advisor's decision.
New applicant: a file entered from scratch (the API's minimum fields marked), scored and
explained.
The model: model card, global importance, data drift.

The dashboard shows the API's decision and band; it never compares a probability with the
threshold itself.

Every panel runs through :func:`guarded`: an API failure becomes a clear message in the page
(never a traceback), and the rest of the page still shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from dashboard import api, auth, charts, forms
from dashboard.api import ApiError
from dashboard.i18n import (
    DEFAULT_LANG,
    LANGS,
    Lang,
    labelled,
    money,
    number,
    percent,
    points,
    signed_points,
    t,
    value_text,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

VIEWS = ("client", "new", "model")
VIEW_TITLES = {"client": "page_client", "new": "page_new", "model": "page_model"}
SECTIONS = ("identity", "family", "employment", "loan", "income", "housing", "scores")
SECTION_TITLES = {
    "identity": "section_identity",
    "family": "section_family",
    "employment": "section_employment",
    "housing": "section_housing",
    "loan": "section_loan",
    "income": "section_finances",
    "scores": "section_external",
}
FILTERS = ("age_band", "gender", "contract_type", "income_type", "education")
DEFAULT_COMPARED = ("EXT_SOURCE_MEAN", "AGE_YEARS", "CREDIT_INCOME_RATIO", "ANNUITY_INCOME_RATIO")
#: The advisors' time zone (the API answers in UTC).
TIME_ZONE = "Europe/Paris"
#: Features listed one by one in an explanation (the experts' table); factors are all there.
EXPLANATION_TOP = 15
#: Reasons on the first screen; factors in a "what if" comparison; the score's main factors
#: whose features the similar clients' medians are shown for.
REASONS_SHOWN = 3
WHATIF_FACTORS = 10
SIMILAR_TOP_FACTORS = 5
#: The API's error code for an application without the minimum fields.
INSUFFICIENT = "insufficient_information"
#: Material icons ship with Streamlit (no emoji font needed on the advisor's machine).
ICONS = {
    "accept": ":material/check_circle:",
    "refuse": ":material/block:",
    "borderline": ":material/balance:",
}
WARN = ":material/warning:"
#: The decision banner's tint, behind words and an icon that carry the meaning on their own;
#: dark text on each stays above 12:1 (WCAG 1.4.3), the left rule is a graphic (1.4.11).
BANNER_STYLE = """<style>
[class*="st-key-verdict-"] { border-left: 0.5rem solid; }
[class*="st-key-verdict-accept"] { background: #E7F1F8; border-left-color: #0072B2; }
[class*="st-key-verdict-refuse"] { background: #FBEAE1; border-left-color: #B34D00; }
[class*="st-key-verdict-borderline"] { background: #FFF3D1; border-left-color: #8A5A00; }
</style>"""


# ----------------------------------------------------------------------------- errors


#: API error codes with a sentence of their own (the API's message is in English).
CODE_MESSAGES = {
    "client_not_found": "err_client_not_found",
    "group_too_small": "err_group_too_small",
    "drift_summary_not_found": "drift_none",
}


def error_message(error: ApiError, lang: Lang) -> str:
    """The sentence shown for a failed API call."""
    if error.code == INSUFFICIENT:  # name the missing fields in the advisor's words
        names = [str(d["field"]) for d in error.details if d.get("field")]
        fields = forms.missing_text(names, lang) if names else error.message
        return t("err_insufficient", lang, fields=fields)
    if error.code in CODE_MESSAGES:
        return t(CODE_MESSAGES[error.code], lang)
    return t(f"err_{error.kind}", lang, detail=error.message)


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-.!|~$"})


def note(text: str) -> None:
    """A note in full-contrast text (Streamlit's captions are too pale for WCAG 1.4.3)."""
    st.markdown(f"<small>{text.translate(_MARKDOWN)}</small>", unsafe_allow_html=True)


def guarded(lang: Lang, panel: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """Run a panel; on failure show a message in its place and return None."""
    try:
        return panel(*args, **kwargs)
    except ApiError as error:
        logger.warning("API call failed in %s: %s %s", panel.__name__, error.kind, error.message)
        st.error(error_message(error, lang), icon=WARN)
    except Exception:  # a bug must not show a traceback to an advisor
        logger.exception("panel %s failed", panel.__name__)
        st.error(t("err_page", lang), icon=WARN)
    return None


def _show(fig_alt: tuple[Any, str], key: str) -> None:
    """A chart and, right under it, its text alternative."""
    fig, alt = fig_alt
    st.plotly_chart(fig, key=key, alt=alt, theme=None, config={"displaylogo": False})
    note(alt)


# ----------------------------------------------------------------------------- frame


def _sidebar(lang: Lang) -> str:
    with st.sidebar:
        st.radio(
            "Langue · Language",
            LANGS,
            format_func=lambda code: {"fr": "Français", "en": "English"}[code],
            horizontal=True,
            key="lang",
        )
        view = st.radio(
            t("nav", lang),
            VIEWS,
            format_func=lambda v: t(VIEW_TITLES[v], lang),
            key="view",
        )
    return str(view)


def _health(lang: Lang) -> bool:
    """Show the API's state in the sidebar; False (with a message) when it cannot be used."""
    try:
        state = api.health()
    except ApiError as error:
        st.error(error_message(error, lang), icon=WARN)
        if st.button(t("retry", lang)):
            st.rerun()
        with st.sidebar:
            st.markdown(f":material/cloud_off: {t('api_down', lang)}")
        return False
    with st.sidebar:
        st.markdown(
            f":material/cloud_done: {t('api_ok', lang, version=state.get('model_version') or '—')}"
        )
    return True


def main() -> None:
    """The whole dashboard, run by Streamlit at every interaction."""
    if "lang" not in st.session_state:
        asked = st.query_params.get("lang")
        st.session_state["lang"] = asked if asked in LANGS else DEFAULT_LANG
    if "view" not in st.session_state and st.query_params.get("view") in VIEWS:
        st.session_state["view"] = st.query_params["view"]
    lang: Lang = st.session_state["lang"]
    view = st.session_state.get("view", "client")
    st.set_page_config(
        page_title=f"{t(VIEW_TITLES.get(view, 'page_client'), lang)} · Prêt à dépenser",
        page_icon=":material/credit_score:",
        layout="wide",
    )
    view = _sidebar(lang)
    with st.sidebar:  # WCAG 3.1.1: the page's language is the advisor's (Streamlit says "en")
        st.html(
            f"<script>document.documentElement.lang = {lang!r};</script>",
            unsafe_allow_javascript=True,
        )
        st.html(BANNER_STYLE)
    cognito = auth.cognito_config()
    if cognito is not None and not signed_in(cognito, lang):
        return
    if api.load_config().token == "":
        st.error(t("err_config", lang), icon=WARN)
        return
    if not _health(lang):
        return
    if view == "new":
        guarded(lang, new_applicant_page, lang)
    elif view == "model":
        model_page(lang)
    else:
        client_page(lang)


def signed_in(cognito: auth.CognitoConfig, lang: Lang) -> bool:
    """Whether an advisor is signed in; if not, the sign-in form (and False)."""
    if auth.session_token(cognito):
        with st.sidebar:
            if st.button(t("sign_out", lang), icon=":material/logout:"):
                for key in list(st.session_state):
                    if key != "lang":  # nothing of this advisor's work stays behind
                        del st.session_state[key]
                api.clear_cache()
                st.rerun()
        return True
    st.title(t("sign_in_title", lang))
    challenge = st.session_state.get("auth-challenge")
    try:
        if challenge is None:
            with st.form("sign-in"):
                email = st.text_input(t("email", lang), key="sign-in-email")
                password = st.text_input(t("password", lang), type="password", key="sign-in-pw")
                if st.form_submit_button(t("sign_in", lang), type="primary"):
                    pending = auth.sign_in(cognito, email.strip(), password)
                    if pending is not None:
                        st.session_state["auth-challenge"] = pending
                    st.rerun()
        else:
            st.info(t("new_password_needed", lang), icon=":material/key:")
            with st.form("new-password"):
                first = st.text_input(t("new_password", lang), type="password", key="new-pw-1")
                again = st.text_input(
                    t("new_password_again", lang), type="password", key="new-pw-2"
                )
                if st.form_submit_button(t("sign_in", lang), type="primary"):
                    if first != again:
                        st.warning(t("passwords_differ", lang), icon=WARN)
                    else:
                        auth.set_new_password(cognito, challenge, first)
                        st.session_state.pop("auth-challenge", None)
                        st.rerun()
    except auth.SignInError as error:
        logger.info("sign-in refused: %s", error.code)
        st.session_state.pop("auth-challenge", None)  # an expired challenge: start again
        key = "sign_in_refused" if error.code != "Unreachable" else "err_unreachable"
        st.error(t(key, lang, detail=error.message), icon=WARN)
    except KeyError:  # a challenge this dashboard does not handle (MFA, ...)
        logger.warning("unexpected Cognito answer", exc_info=True)
        st.session_state.pop("auth-challenge", None)
        st.error(t("sign_in_refused", lang, detail=t("sign_in_unsupported", lang)), icon=WARN)
    return False


# ----------------------------------------------------------------------------- client file


def _open(client_id: int) -> None:
    st.session_state["client_id"] = client_id
    st.query_params["client"] = str(client_id)


def _level_texts(lang: Lang) -> dict[str, str]:
    """Category levels as the API writes them for people in ``lang``."""
    return {
        level["value"]: level["text"]
        for field in api.inputs(lang)["fields"]
        if field["kind"] == "category"
        for level in field["levels"] or []
    }


def _list_row(row: Mapping[str, Any], levels: Mapping[str, str], lang: Lang) -> str:
    def amount(value: Any) -> str:
        return "—" if value is None else money(float(value), lang)

    def level(value: Any) -> str:
        return "—" if value is None else levels.get(str(value), str(value))

    age = row.get("age_years")
    return t(
        "list_row",
        lang,
        id=row["client_id"],
        contract=level(row.get("contract_type")),
        income_type=level(row.get("income_type")),
        age="—" if age is None else f"{int(age)} {'ans' if lang == 'fr' else 'y'}",
        income=amount(row.get("income")),
        credit=amount(row.get("credit")),
    )


def find_client(lang: Lang) -> None:
    """Search by ID, or browse and search the list of new clients."""
    with st.form("find-id", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        typed = left.text_input(t("find_id", lang), key="find-id-text", max_chars=12)
        if right.form_submit_button(t("find_open", lang), type="primary"):
            text = typed.strip()
            if text.isdigit():
                _open(int(text))
                st.rerun()  # the file is drawn above the finder: draw the page again
            else:
                st.warning(t("err_invalid", lang, detail=t("find_id", lang)), icon=WARN)
    query = st.text_input(
        t("find_search", lang), key="find-q", help=t("find_search_help", lang), max_chars=100
    )
    cursors: list[int | None] = st.session_state.setdefault("find-cursors", [None])
    if st.session_state.get("find-last-q") != query:
        cursors[:] = [None]
        st.session_state["find-last-q"] = query
    page = api.list_clients(q=query, cursor=cursors[-1])
    rows = page["clients"]
    if not rows:
        st.info(t("find_none", lang), icon=":material/search:")
        return
    levels = _level_texts(lang)
    labels = {row["client_id"]: _list_row(row, levels, lang) for row in rows}
    pick_key = f"find-pick-{len(cursors)}-{query}"

    def picked() -> None:  # only when the advisor picks: a typed ID later is not overridden
        chosen = st.session_state.get(pick_key)
        if chosen is not None:
            _open(int(chosen))

    st.selectbox(
        t("find_pick", lang),
        list(labels),
        index=None,
        format_func=lambda cid: labels[cid],
        key=pick_key,
        placeholder=t("find_prompt", lang),
        on_change=picked,
    )
    back, more = st.columns(2)
    if len(cursors) > 1 and back.button(t("find_first", lang)):
        cursors[:] = [None]
        st.rerun()
    if page.get("next_cursor") is not None and more.button(t("find_more", lang)):
        cursors.append(int(page["next_cursor"]))
        st.rerun()


def attempt(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | ApiError:
    """An API call's answer, or its error.

    For answers several panels share: each shows the error where it needed the answer.
    """
    try:
        return call(*args, **kwargs)
    except ApiError as error:
        logger.warning("API call %s failed: %s %s", call.__name__, error.kind, error.message)
        return error


def client_page(lang: Lang) -> None:
    """The client file: the decision first, then the file, then why, compare, what if, decide.

    The first screen needs three calls at most (score, explanation, and for a refusal the
    counterfactual); every later panel reuses those answers (and the API client's cache).
    """
    st.title(t("page_client", lang))
    asked = st.query_params.get("client")
    if "client_id" not in st.session_state and asked and asked.isdigit():
        st.session_state["client_id"] = int(asked)
    client_id: int | None = st.session_state.get("client_id")
    details: dict[str, Any] | None = None
    failure: ApiError | None = None
    if client_id is not None:
        try:
            details = api.client(client_id, lang)
        except ApiError as error:
            failure = error
    with st.expander(t("find_title", lang), expanded=details is None, icon=":material/search:"):
        guarded(lang, find_client, lang)
    if client_id is None:
        st.info(t("find_prompt", lang), icon=":material/person_search:")
        return
    if failure is not None and failure.kind == "not_found":
        st.warning(t("client_unknown", lang, id=client_id), icon=":material/person_off:")
        return
    if failure is not None or details is None:
        st.error(error_message(failure, lang) if failure else t("err_page", lang), icon=WARN)
        return
    score: dict[str, Any] | None = guarded(lang, api.score, client_id)
    explanation: Any = None
    counterfactual: Any = None
    if score is not None:
        explanation = attempt(api.explanation, client_id, lang, EXPLANATION_TOP)
        if score["decision"] == "refuse":
            counterfactual = attempt(api.counterfactual, client_id, lang)
        with st.container(key="decision-banner"):
            guarded(lang, verdict_view, score, explanation, counterfactual, lang, "client")
    if guarded(lang, summary_card, client_id, details, lang) is None or score is None:
        return
    guarded(lang, score_panel, score, lang, str(client_id))
    why, compare, whatif, decide = st.tabs(
        [
            f":material/help: {t('why_title', lang)}",
            f":material/bar_chart: {t('compare_title', lang)}",
            f":material/tune: {t('whatif_title', lang)}",
            f":material/edit_note: {t('decide_title', lang)}",
        ]
    )
    with why:
        guarded(lang, why_panel, client_id, explanation, lang)
    with compare:
        guarded(lang, compare_panel, client_id, details, explanation, lang)
    with whatif:
        guarded(lang, whatif_panel, client_id, score, explanation, counterfactual, lang)
    with decide:
        guarded(lang, decision_panel, client_id, score, lang)


def summary_card(client_id: int, details: Mapping[str, Any], lang: Lang) -> bool:
    """The client's descriptive fields, by section (True once shown)."""
    st.header(t("card_title", lang, id=client_id))
    by_section: dict[str, list[dict[str, Any]]] = {}
    for field in details["fields"]:
        by_section.setdefault(field["section"], []).append(field)
    shown = [s for s in SECTIONS if s in by_section]
    for start in range(0, len(shown), 4):
        for column, section in zip(st.columns(4), shown[start : start + 4], strict=False):
            with column.container(border=True):
                st.markdown(f"**{t(SECTION_TITLES[section], lang)}**")
                lines = [labelled(f["label"], f["text"], lang) for f in by_section[section]]
                st.markdown("  \n".join(lines))
    return True


# ----------------------------------------------------------------------------- the decision


def _zone(score: Mapping[str, Any]) -> tuple[float, float] | None:
    """The model's uncertainty interval around the threshold (None when it is empty)."""
    interval = score.get("borderline") or {}
    lower, upper = interval.get("lower"), interval.get("upper")
    if lower is None or upper is None or float(upper) <= float(lower):
        return None
    return float(lower), float(upper)


def verdict_sentence(score: Mapping[str, Any], lang: Lang) -> str:
    """Probability against threshold in words, on the side the API decided (or its band)."""
    kind = charts.verdict(score)
    probability, threshold = float(score["probability"]), float(score["threshold"])
    values: dict[str, str] = {"prob": percent(probability, lang), "thr": percent(threshold, lang)}
    zone = _zone(score)
    if kind == "borderline" and zone is not None:
        values |= {"lower": percent(zone[0], lang), "upper": percent(zone[1], lang)}
    else:
        kind = str(score["decision"])
        values["points"] = points(float(score.get("margin", probability - threshold)), lang)
    return t(f"verdict_{kind}", lang, **values)


def _reason_line(number_: int, item: Mapping[str, Any], lang: Lang) -> str:
    """One reason: its direction, its effect in points, its name and the values it rests on."""
    effect = float(item.get("points") or 0.0)
    value = item.get("value")
    shown = f"{item['label']} ({value})" if value else str(item["label"])
    if round(effect, 1) == 0:  # a reason without an effect of its own (the reference risk)
        return f"{number_}. {charts.arrow(str(item.get('direction')))} {item['sentence']}"
    return (
        f"{number_}. {charts.arrow(str(item.get('direction')))} "
        f"**{signed_points(effect, lang)}** · {shown}"
    )


def reasons_view(score: Mapping[str, Any], explanation: Any, lang: Lang) -> None:
    """The decision's main reasons (the API's ``reasons``), each once, with their points."""
    if isinstance(explanation, ApiError):
        st.markdown(f"{WARN} {error_message(explanation, lang)}")
        return
    if not isinstance(explanation, Mapping):
        return
    reasons = list(explanation.get("reasons") or [])[:REASONS_SHOWN]
    decision = str(score["decision"])
    title = (
        f"reasons_borderline_{decision}"
        if charts.verdict(score) == "borderline"
        else f"reasons_{decision}"
    )
    st.markdown(f"**{t(title, lang)}**")
    if not reasons:
        st.markdown(t("why_none", lang))
        return
    st.markdown("\n".join(_reason_line(n, item, lang) for n, item in enumerate(reasons, 1)))


def counterfactual_view(counterfactual: Any, lang: Lang) -> None:
    """For a refusal: the smallest change that would get an accept, or why none does."""
    if counterfactual is None:
        return
    st.markdown(f"**:material/lightbulb: {t('cf_title', lang)}**")
    if isinstance(counterfactual, ApiError):
        st.markdown(f"{WARN} {error_message(counterfactual, lang)}")
        return
    options = counterfactual.get("options") or []
    if counterfactual.get("found") and options:
        st.markdown(str(options[0]["sentence"]))
        if len(options) > 1:
            note(t("cf_more", lang, n=len(options) - 1))
    else:
        st.markdown(str(counterfactual.get("summary") or ""))


def verdict_view(
    score: Mapping[str, Any],
    explanation: Any,
    counterfactual: Any,
    lang: Lang,
    key: str,
) -> None:
    """The decision first: accept, refuse or to review, and why; what would change a refusal.

    ``explanation`` and ``counterfactual`` may be an answer, an :class:`ApiError` (said in
    words in their place) or None (not shown).
    """
    kind = charts.verdict(score)
    needed = counterfactual is not None and (
        isinstance(counterfactual, ApiError) or bool(counterfactual.get("needed"))
    )
    with st.container(border=True, key=f"verdict-{kind}-{key}"):
        if needed:
            main_column, side = st.columns([3, 2], gap="large")
        else:
            main_column, side = st.container(), None
        with main_column:
            st.markdown(f"### {ICONS[kind]} {t(kind, lang)}")
            st.markdown(verdict_sentence(score, lang))
            if kind == "borderline":
                st.markdown(t("band_reason", lang))
            reasons_view(score, explanation, lang)
        if side is not None:
            with side:
                counterfactual_view(counterfactual, lang)


def score_view(score: Mapping[str, Any], lang: Lang, key: str) -> None:
    """Gauge, then the facts: probability, threshold, zone to review, the model's decision."""
    probability, threshold = float(score["probability"]), float(score["threshold"])
    kind = charts.verdict(score)
    left, right = st.columns([3, 2])
    with left:
        _show(charts.gauge(score, lang), key=f"gauge-{key}")
    with right, st.container(border=True):
        st.markdown(labelled(t("probability", lang), percent(probability, lang), lang))
        st.markdown(labelled(t("threshold", lang), percent(threshold, lang), lang))
        zone = _zone(score)
        if zone is not None:
            st.markdown(
                t("band_zone", lang, lower=percent(zone[0], lang), upper=percent(zone[1], lang))
            )
        st.markdown(labelled(t("decision", lang), f"{ICONS[kind]} {t(kind, lang)}", lang))
        note(t("model_version", lang, version=score["model_version"]))


def score_panel(score: Mapping[str, Any], lang: Lang, key: str) -> None:
    """The score in detail, and why the threshold is where it is."""
    st.subheader(f":material/speed: {t('score_title', lang)}")
    score_view(score, lang, key=key)
    card = guarded(lang, api.model_card, lang)
    if card:
        _cost_note(card, lang)


# ----------------------------------------------------------------------------- why


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
    _show(charts.factors(items, lang), key=f"why-{key}")


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
            t("why_top", lang), 5, n_factors, min(10, n_factors), key=f"why-top-{client_id}"
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


def _filter_choice(
    name: str, own: str | None, levels: Mapping[str, str], lang: Lang, key: str
) -> str | None:
    """All clients, the client's own level, or any level of one group dimension."""
    options: list[str | None] = [None, "same", *levels] if own else [None, *levels]

    def text(value: str | None) -> str:
        if value is None:
            return t("filter_all", lang)
        if value == "same":
            return f"{t('filter_same', lang)} ({levels.get(str(own), str(own))})"
        return levels.get(value, value)

    return st.selectbox(t(f"filter_{name}", lang), options, format_func=text, key=key)


def compare_panel(client_id: int, details: Mapping[str, Any], explanation: Any, lang: Lang) -> None:
    """The client among reference clients: distributions, two features together, similar."""
    st.subheader(t("compare_title", lang))
    own: Mapping[str, str | None] = details.get("groups", {})
    groups = {
        group["name"]: {level["value"]: level["text"] for level in group["levels"]}
        for group in api.inputs(lang).get("groups", [])  # an older API has none
    }
    st.markdown(f"**{t('compare_group', lang)}**", help=t("compare_group_help", lang))
    filters: dict[str, str] = {}
    for column, name in zip(st.columns(len(FILTERS)), FILTERS, strict=True):
        with column:
            chosen = _filter_choice(
                name, own.get(name), groups.get(name, {}), lang, key=f"filter-{name}-{client_id}"
            )
        if chosen:
            filters[name] = chosen
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
    chosen_features = st.multiselect(
        t("compare_features", lang),
        list(by_name),
        default=[f for f in DEFAULT_COMPARED if f in by_name][:3],
        format_func=lambda name: labels[name],
        key=f"compare-features-{client_id}",
    )
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
                    value=value_text(float(value), feature.get("unit"), lang),
                    pct=percent(float(pct) / 100, lang, 0),
                )
            )
        _show(charts.distribution(feature, lang), key=f"dist-{client_id}-{name}")
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
    note(t("hidden_cells", lang, n=everything["min_cell_count"]))

    st.subheader(t("bivariate_title", lang))
    names = list(by_name)
    left, right = st.columns(2)
    x = left.selectbox(
        t("bivariate_x", lang),
        names,
        index=names.index("AMT_CREDIT") if "AMT_CREDIT" in names else 0,
        format_func=lambda n: labels[n],
        key=f"biv-x-{client_id}",
    )
    y = right.selectbox(
        t("bivariate_y", lang),
        names,
        index=names.index("AGE_YEARS") if "AGE_YEARS" in names else 1,
        format_func=lambda n: labels[n],
        key=f"biv-y-{client_id}",
    )
    if x != y:
        _show(
            charts.bivariate(api.bivariate(client_id, lang, x, y, filters), lang),
            key=f"biv-{client_id}",
        )
    top_factors = (
        [str(f["factor"]) for f in explanation.get("factors", [])[:SIMILAR_TOP_FACTORS]]
        if isinstance(explanation, Mapping)
        else []
    )
    guarded(lang, similar_panel, client_id, by_name, top_factors, lang)


def similar_panel(
    client_id: int, features: Mapping[str, Any], top_factors: Sequence[str], lang: Lang
) -> None:
    """The k most similar reference clients, in aggregate, beside what the score measures.

    Their default rate sits next to the observed default rate of reference clients with a
    similar score, and the API says in one sentence why the two may differ. The medians are
    shown beside the client's own values, for the features tied to the score's main factors.
    """
    answer = api.similar(client_id, lang)
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
                    None if mine is None else float(mine), unit, lang
                ),
                t("col_median", lang): value_text(
                    None if theirs is None else float(theirs), unit, lang
                ),
            }
        )
    st.table(table, hide_index=True)


# ----------------------------------------------------------------------------- what if


def factor_changes(
    before: Any, after: Mapping[str, Any], limit: int = WHATIF_FACTORS
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
        _show(charts.factor_changes(rows, lang), key=f"changes-{key}")

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
    with st.form(f"whatif-{client_id}"):
        edited = forms.application_form(
            forms.WHATIF_FIELDS,
            bases.get(client_id, original),
            key=f"whatif-{client_id}-{version}",
            lang=lang,
        )
        run = st.form_submit_button(t("whatif_run", lang), type="primary")
    if st.button(t("whatif_reset", lang), key=f"whatif-reset-{client_id}"):
        versions[client_id] = version + 1
        bases.pop(client_id, None)
        results.pop(client_id, None)
        st.rerun()
    if run:
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
    verdict_view(result["score"], None, None, lang, key=f"whatif-{client_id}")
    score_view(result["score"], lang, key=f"whatif-{client_id}")
    factor_changes_view(explanation, explained(result, lang), lang, key=f"whatif-{client_id}")


def simulate(application: dict[str, Any], lang: Lang) -> dict[str, Any] | None:
    """:func:`simulated` once the application has the API's minimum; else None.

    The advisor is then told which fields to fill in (from ``GET /inputs``, or from the
    API's 422 answer, in case the two ever differ).
    """
    missing = forms.missing_required(application, forms.field_specs(lang))
    if missing:
        st.warning(t("err_insufficient", lang, fields=forms.missing_text(missing, lang)), icon=WARN)
        return None
    try:
        return simulated(application)
    except ApiError as error:
        if error.code != INSUFFICIENT:
            raise
        st.warning(error_message(error, lang), icon=WARN)
        return None


def simulated(application: dict[str, Any]) -> dict[str, Any]:
    """Score an application not on file; its explanations are kept per language.

    Raises :class:`ApiError` (``insufficient_information``) when the API finds too little
    to score: the caller shows which fields are missing.
    """
    return {
        "application": application,
        "score": api.score_application(application),
        "explanations": {},
        "counterfactuals": {},
    }


def explained(result: dict[str, Any], lang: Lang) -> Any:
    """The explanation of a simulated application in ``lang`` (asked once per language)."""
    by_lang: dict[str, Any] = result["explanations"]
    if lang not in by_lang:
        by_lang[lang] = api.explain_application(result["application"], lang, EXPLANATION_TOP)
    return by_lang[lang]


def counterfactual_of(result: dict[str, Any], lang: Lang) -> Any:
    """What would get a simulated application accepted, in ``lang`` (asked once)."""
    by_lang: dict[str, Any] = result.setdefault("counterfactuals", {})
    if lang not in by_lang:
        by_lang[lang] = api.counterfactual_application(result["application"], lang)
    return by_lang[lang]


def _when(text: str, lang: Lang) -> str:
    """An API time (UTC, ISO 8601) in the advisors' time zone, written for people."""
    try:  # decision keys end with "#<uuid>" to stay unique
        moment = datetime.fromisoformat(text.split("#", 1)[0].replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        local, zone = moment.astimezone(ZoneInfo(TIME_ZONE)), ""
    except ZoneInfoNotFoundError:  # a host without time-zone data
        local, zone = moment.astimezone(UTC), " UTC"
    return local.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M") + zone


def decision_panel(client_id: int, score: Mapping[str, Any], lang: Lang) -> None:
    """Record the advisor's decision with a comment, and show earlier decisions.

    The model's decision is proposed, except for a file to review: there the advisor
    chooses, and says in the comment what was checked.
    """
    st.subheader(t("decide_title", lang))
    choices = ("accept", "refuse")
    borderline = charts.verdict(score) == "borderline"
    if borderline:
        st.markdown(f"{ICONS['borderline']} {t('decide_borderline', lang)}")
    with st.form(f"decide-{client_id}", clear_on_submit=False):
        choice = st.radio(
            t("decide_choice", lang),
            choices,
            index=None if borderline else choices.index(str(score["decision"])),
            format_func=lambda c: f"{ICONS[c]} {t(c, lang)}",
            horizontal=True,
            key=f"decide-choice-{client_id}",
        )
        comment = st.text_area(
            t("decide_comment", lang),
            max_chars=1000,
            key=f"decide-comment-{client_id}",
            help=t("decide_against", lang),
        )
        submitted = st.form_submit_button(t("decide_submit", lang), type="primary")
    if submitted:
        if choice is None:
            st.warning(t("decide_need_choice", lang), icon=":material/edit:")
        elif borderline and not comment.strip():
            st.warning(t("decide_need_check", lang), icon=":material/edit:")
        elif choice != score["decision"] and not comment.strip():
            st.warning(t("decide_need_reason", lang), icon=":material/edit:")
        else:
            record = api.record_decision(client_id, str(choice), comment.strip())
            st.success(
                t("decide_done", lang, at=_when(record["decided_at"], lang)),
                icon=":material/check_circle:",
            )
    st.markdown(f"**{t('decide_history', lang)}**")
    history = api.decisions(client_id)["decisions"]
    if not history:
        st.markdown(t("decide_none", lang))
        return
    st.table(
        [
            {
                t("col_at", lang): _when(d["decided_at"], lang),
                t("col_decision", lang): f"{ICONS.get(d['decision'], '')} {t(d['decision'], lang)}",
                t("col_comment", lang): d.get("comment") or "",
                t("col_advisor", lang): d.get("advisor") or "",
                t("col_probability", lang): percent(float(d["probability"]), lang),
                t("col_model", lang): d.get("model_version") or "",
            }
            for d in reversed(history)
        ]
    )


# ----------------------------------------------------------------------------- new applicant


def new_applicant_page(lang: Lang) -> None:
    """A file entered from scratch, scored and explained (nothing is stored).

    The fields the API requires are marked; a form without them is not sent.
    """
    st.title(t("new_title", lang))
    st.markdown(t("new_intro", lang))
    rule = api.inputs(lang).get("minimum_rule")
    if rule:
        st.info(str(rule), icon=":material/info:")
    version = st.session_state.setdefault("new-version", 0)
    with st.form("new-applicant"):
        application = forms.application_form(forms.NEW_FIELDS, {}, f"new-{version}", lang)
        with st.expander(t("new_more", lang)):
            application = forms.application_form(
                forms.NEW_OPTIONAL_FIELDS, application, f"new-more-{version}", lang
            )
        run = st.form_submit_button(t("new_run", lang), type="primary")
    if run:
        st.session_state.pop("new-result", None)
        outcome = simulate(application, lang)
        if outcome is not None:
            st.session_state["new-result"] = outcome
    result = st.session_state.get("new-result")
    if result is None:
        return
    score = result["score"]
    explanation = attempt(explained, result, lang)
    counterfactual = (
        attempt(counterfactual_of, result, lang) if score["decision"] == "refuse" else None
    )
    verdict_view(score, explanation, counterfactual, lang, key="new")
    score_view(score, lang, key="new")
    st.subheader(t("why_title", lang))
    if isinstance(explanation, ApiError):
        st.error(error_message(explanation, lang), icon=WARN)
        return
    factors_view(explanation, lang, "new", WHATIF_FACTORS)
    note(t("why_method", lang, base=percent(float(explanation["base_probability"]), lang)))


# ----------------------------------------------------------------------------- the model


def model_page(lang: Lang) -> None:
    """Model card, global importance and data drift."""
    st.title(t("model_title", lang))
    guarded(lang, model_card_panel, lang)
    guarded(lang, importance_panel, lang)
    guarded(lang, drift_panel, lang)


def model_card_panel(lang: Lang) -> None:
    """What the model is, how it was chosen, how well it does."""
    card = api.model_card(lang)
    st.subheader(t("model_card", lang))
    metrics = card.get("metrics", {})
    training = card.get("training_data", {})
    st.markdown(
        f"{t('model_version', lang, version=card['model_version'])} · "
        f"{labelled(t('model_type', lang), card.get('model_type') or '—', lang)} · "
        f"{t('model_trained', lang)} **{_when(card.get('created_at') or '', lang)}**"
    )
    row = st.columns(4)
    row[0].metric(t("threshold", lang), percent(float(card["threshold"]), lang))
    row[1].metric(t("metric_auc", lang), number(float(metrics.get("cv_auc", 0)), lang, 3))
    row[2].metric(t("metric_recall", lang), percent(float(metrics.get("recall", 0)), lang))
    row[3].metric(t("metric_refusal", lang), percent(float(metrics.get("refusal_rate", 0)), lang))
    row = st.columns(4)
    row[0].metric(
        t("metric_cost", lang), number(float(metrics.get("cv_cost_per_client", 0)), lang, 3)
    )
    row[1].metric(t("model_clients", lang), number(float(training.get("n_clients", 0)), lang))
    row[2].metric(
        t("model_default_rate", lang), percent(float(training.get("default_rate", 0)), lang)
    )
    _cost_note(card, lang)
    fingerprint = (training.get("sha256") or "")[:12]
    if fingerprint:
        note(t("model_data", lang, file=training.get("file") or "—", sha=fingerprint))
    uses, limits = st.columns(2)
    with uses:
        st.markdown(f"**{t('model_use', lang)}**")
        st.markdown("\n".join(f"- {item}" for item in card.get("intended_use") or []) or "—")
    with limits:
        st.markdown(f"**{t('model_limits', lang)}**")
        st.markdown("\n".join(f"- {item}" for item in card.get("known_limits") or []) or "—")
    candidates: Sequence[Mapping[str, Any]] = card.get("comparison") or []
    if candidates:

        def share(value: Any) -> str:
            return "—" if value is None else percent(float(value), lang)

        def decimals(value: Any) -> str:
            return "—" if value is None else number(float(value), lang, 3)

        with st.expander(t("model_candidates", lang)):
            st.table(
                [
                    {
                        t("col_model", lang): c.get("model"),
                        t("col_imbalance", lang): c.get("imbalance"),
                        "AUC": decimals(c.get("auc")),
                        t("metric_cost", lang): decimals(c.get("cost_per_client")),
                        t("threshold", lang): share(c.get("threshold")),
                    }
                    for c in candidates
                ]
            )


def _cost_note(card: Mapping[str, Any], lang: Lang) -> None:
    """Why the threshold is where it is: the business cost of each kind of error."""
    if card.get("cost_fn") and card.get("cost_fp"):
        ratio = float(card["cost_fn"]) / float(card["cost_fp"])
        note(t("cost_note", lang, fn=number(ratio, lang, 0 if ratio.is_integer() else 1)))


def importance_panel(lang: Lang) -> None:
    """Global importance (mean |TreeSHAP|)."""
    answer = api.importance(lang, top=15)
    _show(charts.importance(answer["features"], lang), key="importance")
    note(t("importance_method", lang, n=number(float(answer.get("n_clients_sampled") or 0), lang)))


def drift_panel(lang: Lang) -> None:
    """The latest data-drift summary, if one was published."""
    st.subheader(t("drift_title", lang))
    try:
        summary = api.drift()
    except ApiError as error:
        if error.kind == "not_found":
            st.info(t("drift_none", lang), icon=":material/info:")
            return
        raise
    n, total = int(summary.get("n_drifted", 0)), int(summary.get("n_features", 0))
    share = percent(float(summary.get("drift_share", 0)), lang)
    verdict = summary.get("verdict")
    if verdict == "drift":
        st.warning(
            t("drift_verdict_drift", lang, n=n, total=total, share=share),
            icon=":material/trending_down:",
        )
    elif verdict == "insufficient data":
        rows = summary.get("current", {}).get("rows", 0)
        st.info(t("drift_verdict_few", lang, rows=rows), icon=":material/info:")
    else:
        st.success(
            t("drift_verdict_ok", lang, n=n, total=total, share=share),
            icon=":material/check_circle:",
        )
    note(
        t(
            "drift_meta",
            lang,
            at=_when(str(summary.get("generated_at", "")), lang),
            ref=number(float(summary.get("reference", {}).get("rows", 0)), lang),
            cur=number(float(summary.get("current", {}).get("rows", 0)), lang),
            thr=percent(float(summary.get("share_threshold", 0)), lang, 0),
        )
    )
    prediction = summary.get("prediction") or {}
    if prediction:

        def value(key: str, write: Callable[[float], str]) -> str:
            found = prediction.get(key)
            return "—" if found is None else write(float(found))

        st.markdown(
            t(
                "drift_prediction",
                lang,
                ref=value("reference_mean", lambda v: percent(v, lang)),
                cur=value("current_mean", lambda v: percent(v, lang)),
                psi=value("psi", lambda v: number(v, lang, 3)),
            )
        )
    features = sorted(summary.get("features", []), key=lambda f: -(f.get("psi") or 0.0))[:15]
    if features:
        _show(charts.drift(features, lang), key="drift")
