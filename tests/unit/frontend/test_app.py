"""The dashboard through Streamlit's AppTest, against the stubbed API: the advisor's journey.

Find a client (by ID and from the list), summary card, score and decision, why, compare,
what if, record a decision, a new applicant, the model page; French and English; and what an
advisor sees when the API is down, slow, or answers 401/404/422/503.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stub_api
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block
from stub_api import HIGH, LOW, STUB_POOL_ID, TOKEN, Fault, Rendezvous, StubServer

from dashboard.i18n import Lang

RunApp = Callable[..., AppTest]


def page_text(at: AppTest) -> str:
    """Every text element of the page (main area and sidebar), joined."""
    kinds = (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
    )
    parts: list[str] = []
    for kind in kinds:
        parts.extend(str(element.value) for element in getattr(at, kind))
    text = "\n".join(parts).replace("\u00a0", " ").replace("\u202f", " ")
    # notes are <small> markdown with escaped punctuation
    text = text.replace("<small>", "").replace("</small>", "")
    return re.sub(r"\\(.)", r"\1", text)


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> list[Any]:
    return list(at.get("plotly_chart"))


def tables(at: AppTest, column: str) -> list[Any]:
    """The tables (as data frames) that have a column ``column``."""
    return [table.value for table in at.table if column in table.value.columns]


def factor_rows(at: AppTest) -> list[str]:
    """The factors of the "what if" comparison table (file, simulation, change)."""
    found = tables(at, "Écart") or tables(at, "Change")
    assert len(found) == 1, [table.value.columns.tolist() for table in at.table]
    column = "Facteur" if "Facteur" in found[0].columns else "Factor"
    return [str(label) for label in found[0][column]]


def submit(at: AppTest, label: str) -> AppTest:
    buttons = [b for b in at.button if b.label == label]
    assert buttons, f"no button {label!r}: {[b.label for b in at.button]}"
    return buttons[0].click().run()


def worklist_ids(at: AppTest) -> list[int]:
    """The clients of the worklist's page, from their "open" buttons."""
    return [int(b.key.rsplit("-", 1)[1]) for b in at.button if str(b.key).startswith("wl-open-")]


def worklist_rows(at: AppTest) -> list[str]:
    """Each listed client's line: its description, what the score says, its decision state."""
    texts = [str(m.value) for m in at.markdown]
    return [t for t in texts if " · " in t and ("revenu" in t or "income" in t)]


def open_from_worklist(at: AppTest, client_id: int) -> AppTest:
    return at.button(key=f"wl-open-{client_id}").click().run()


# ----------------------------------------------------------------------------- the journey


def test_the_landing_page_asks_for_a_client(app: RunApp) -> None:
    at = app()
    no_failure(at)
    assert [t.value for t in at.title] == ["Dossier client"]
    text = page_text(at)
    assert "Saisissez un numéro de client" in text
    assert "API disponible · modèle stub-model-1" in text
    # the worklist: clients waiting for a decision, with what their score says
    assert worklist_ids(at) == [100001, 100002, 100003, 100004]
    assert "Clients à traiter" in text and "Refus net · 31,0 %" in text
    assert "À examiner · 10,2 %" in text and "Pas de score" in text


def test_find_a_client_by_id_and_see_the_whole_file(app: RunApp, stub: StubServer) -> None:
    at = app()
    at.text_input(key="find-id-text").input("100002")
    at = submit(at, "Ouvrir le dossier")
    no_failure(at)
    text = page_text(at)
    # summary card
    assert "Client 100002" in text and "Situation familiale" in text
    # score: probability, decision in words with an icon, distance in plain language
    assert "Probabilité de défaut : **31,0 %**" in text
    assert ":material/block: Refus" in text
    assert (
        "Probabilité de défaut **31,0 %** pour un seuil de **10,0 %** : 21,0 points "
        "au-dessus du seuil." in text
    )
    assert "10 fois plus" in text  # the business cost behind the threshold
    # the refusal's main reasons, in points, with the values they rest on
    reasons = text.index("**Principaux motifs du refus**")
    assert text.index("1. ▲ **+8,7 pts** · Scores externes (Score externe 2 : 0,20)") > reasons
    # the deep link follows the client
    assert at.query_params["client"] == ["100002"] or at.query_params["client"] == "100002"
    # every chart has a text alternative, written under it too
    shown = charts(at)
    assert len(shown) >= 2  # gauge, contributions (the other tabs' charts load when opened)
    for chart in shown:
        assert chart.proto.alt, "a chart without a text alternative"
        assert chart.proto.alt.replace("\u00a0", " ").replace("\u202f", " ") in text
    assert stub.state.seen("GET", "/clients/100002/score")


def test_a_files_first_screen_is_one_round_trip(app: RunApp, stub: StubServer) -> None:
    """Its calls and the API's health are all in flight together before any is answered."""
    first_screen = {"/health", "/model", "/clients/100002", "/clients/100002/score"}
    stub.state.rendezvous = Rendezvous(frozenset(first_screen | {"/clients/100002/explanation"}))
    at = app(client=100002)
    no_failure(at)  # a call asked after another's answer would have waited alone, then failed
    text = page_text(at)
    assert "Probabilité de défaut **31,0 %**" in text and "**Principaux motifs du refus**" in text
    # and the refusal's counterfactual, asked once the score says "refuse", is in the banner
    assert "Ce qui permettrait un accord" in text


def test_browse_the_list_and_pick_a_client(app: RunApp) -> None:
    at = app()
    at = open_from_worklist(at, 100001)
    no_failure(at)
    text = page_text(at)
    assert "Client 100001" in text
    assert ":material/check_circle: Accord" in text
    assert "**Principaux éléments en faveur de l'accord**" in text
    assert "1. ▼ **−1,9 pt** · Scores externes" in text
    assert "Principaux motifs du refus" not in text
    assert "Ce qui permettrait un accord" not in text


def test_search_narrows_the_list(app: RunApp, stub: StubServer) -> None:
    at = app()
    at = at.text_input(key="find-q").input("100002").run()
    no_failure(at)
    assert stub.state.seen("GET", "/clients")[-1][0]["q"] == "100002"
    assert worklist_ids(at) == [100002]


def test_a_deep_link_opens_the_client(app: RunApp) -> None:
    at = app(client=100001)
    no_failure(at)
    assert "Client 100001" in page_text(at)


def test_compare_with_a_filtered_group(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001, tab="compare")
    text = page_text(at)
    assert "Groupe : 1 000 clients de référence, dont 100 en défaut (10,0 %)." in text
    assert "plus que 55 % des clients du groupe" in text
    assert "Les effectifs inférieurs à 5 ne sont pas publiés" in text
    assert "Parmi les 50 clients de référence les plus proches" in text
    at = at.selectbox(key="filter-gender-100001-fr").select("same").run()
    no_failure(at)
    asked = stub.state.seen("GET", "/clients/100001/comparison")[-1][0]
    assert asked["gender"] == "same"
    assert "Groupe : 400 clients" in page_text(at)
    gender = at.selectbox(key="filter-gender-100001-fr")
    assert gender.options == ["Tous", "Comme le client (femme)", "femme", "homme"]
    at = gender.select("male").run()
    assert stub.state.seen("GET", "/clients/100001/comparison")[-1][0]["gender"] == "male"
    # pick the compared features
    at = at.multiselect(key="compare-features-100001-fr").select("AMT_CREDIT").run()
    no_failure(at)
    assert "Montant du crédit" in page_text(at)
    # the bivariate view follows the chosen axes
    at = at.selectbox(key="biv-y-100001-fr").select("EXT_SOURCE_MEAN").run()
    no_failure(at)
    asked = stub.state.seen("GET", "/clients/100001/bivariate")[-1][0]
    assert asked["y"] == "EXT_SOURCE_MEAN"


def test_what_if_changes_the_score(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    income = at.text_input(key="whatif-100002-0-AMT_INCOME_TOTAL-fr")
    assert income.value == "90\u202f000\u00a0€"  # written as everywhere else, not "90000"
    income.input("150 000 €")
    at = submit(at, "Recalculer le score")
    no_failure(at)
    body = stub.state.seen("POST", "/score")[-1][1]
    assert body["application"]["AMT_INCOME_TOTAL"] == 150000.0
    # the other fields are the client's own
    assert body["application"]["AMT_CREDIT"] == 900000.0
    assert body["application"]["DAYS_EMPLOYED"] == -300.0
    assert stub.state.seen("POST", "/explain")[-1][0]["top"] == "15"  # never every feature
    text = page_text(at)
    assert "Score simulé" in text
    assert "Champs modifiés : AMT_INCOME_TOTAL (fr)" in text
    assert (
        f"−27,0 points par rapport au dossier ({HIGH * 100:.1f} % → {LOW * 100:.1f} %)".replace(
            ".", ","
        )
        in text
    )
    assert ":material/check_circle: Accord" in text


def test_what_if_no_job_sends_the_api_code(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001, tab="whatif")
    at.checkbox(key="whatif-100001-0-DAYS_EMPLOYED-none").check()
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")[-1][1]["application"]["DAYS_EMPLOYED"] == 365243.0


def test_what_if_changes_the_employment_in_years(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001, tab="whatif")
    years = at.text_input(key="whatif-100001-0-DAYS_EMPLOYED-fr")
    assert years.value == "5,5"  # 2000 days, with a decimal comma (not "5.5")
    years.input("10")
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")[-1][1]["application"]["DAYS_EMPLOYED"] == -3652


def test_record_a_decision_and_see_it(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="decide")
    assert "Aucune décision enregistrée pour ce client." in page_text(at)
    at.text_area(key="decide-comment-100002").input("Revenus insuffisants, vu avec le client.")
    at = submit(at, "Enregistrer la décision")
    no_failure(at)
    posted = stub.state.seen("POST", "/clients/100002/decisions")
    assert posted[-1][1] == {
        "decision": "refuse",
        "comment": "Revenus insuffisants, vu avec le client.",
    }
    text = page_text(at)
    assert "Décision enregistrée le 28/11/2026 10:00." in text  # 09:00 UTC, in Paris
    assert "Décision finale : **Refus**, le 28/11/2026 10:00, par advisor@example." in text
    assert not at.table  # a comment is data: a data frame shows it as typed, never Markdown
    history = at.dataframe[-1].value
    assert history["Commentaire"].tolist() == ["Revenus insuffisants, vu avec le client."]
    assert history["Statut"].tolist() == ["finale"]
    assert stub.state.decision_keys[-1]  # an Idempotency-Key with every submission


def test_overriding_the_model_needs_a_reason_code_and_a_confirmation(
    app: RunApp, stub: StubServer
) -> None:
    at = app(client=100002, tab="decide")  # the model refuses 100002
    at.radio(key="decide-choice-100002-fr").set_value("accept")
    at = submit(at, "Enregistrer la décision")
    assert "Votre décision va contre celle du modèle : choisissez un motif" in page_text(at)
    assert not stub.state.seen("POST", "/clients/100002/decisions")
    reason = at.selectbox(key="decide-reason-100002-fr")
    assert reason.options == [
        "Garanties supplémentaires",
        "Co-emprunteur solvable",
        "Situation vérifiée sur justificatifs",
        "Autre (préciser en commentaire)",
    ]
    reason.select("co_emprunteur")
    at = submit(at, "Enregistrer la décision")  # not confirmed yet
    assert not stub.state.seen("POST", "/clients/100002/decisions")
    at.checkbox(key="decide-confirm-100002").check()
    at.text_area(key="decide-comment-100002").input("Garant solide.")
    at = submit(at, "Enregistrer la décision")
    no_failure(at)
    posted = stub.state.seen("POST", "/clients/100002/decisions")
    assert [body for _, body in posted] == [
        {"decision": "accept", "comment": "Garant solide.", "reason_code": "co_emprunteur"}
    ]
    assert at.dataframe[-1].value["Motif"].tolist() == ["Co-emprunteur solvable"]


def test_a_failed_recording_says_so_and_keeps_what_was_typed(app: RunApp, stub: StubServer) -> None:
    """Issue 14: the error replaced the page, the comment was lost, nothing said "not"."""
    at = app(client=100002, tab="decide")
    at.radio(key="decide-choice-100002-fr").set_value("refuse")
    at.text_area(key="decide-comment-100002").input("Revenus insuffisants.")
    stub.state.faults.append(Fault("/clients/100002/decisions", status=503, times=1, method="POST"))
    at = submit(at, "Enregistrer la décision")
    assert not at.exception
    errors = [str(e.value).replace("\u00a0", " ") for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Décision non enregistrée : ")
    assert errors[0].endswith("Votre saisie est conservée.")
    assert at.text_area(key="decide-comment-100002").value == "Revenus insuffisants."
    assert at.radio(key="decide-choice-100002-fr").value == "refuse"
    assert "Client 100002" in page_text(at)  # the rest of the file is still there
    at = submit(at, "Enregistrer la décision")  # the same submission, sent again
    no_failure(at)
    assert len(stub.state.decisions[100002]) == 1
    assert "Décision enregistrée le" in page_text(at)


def test_a_submission_sent_twice_is_recorded_once(app: RunApp, stub: StubServer) -> None:
    """The answer lost (a 503 after the write, a click during the send): same key, 200."""
    at = app(client=100002, tab="decide")
    at.text_area(key="decide-comment-100002").input("Revenus insuffisants.")
    at = submit(at, "Enregistrer la décision")
    key = stub.state.decision_keys[-1]
    body = stub.state.seen("POST", "/clients/100002/decisions")[-1][1]
    assert stub.state.answer("POST", "/clients/100002/decisions", {}, body, key)[0] == 200
    assert len(stub.state.decisions[100002]) == 1
    # A new submission gets a new key, and must say it replaces the final decision.
    at = submit(at, "Enregistrer la décision")
    assert "cochez « Remplacer la décision finale »" in page_text(at)
    at.checkbox(key="decide-replace-100002").check()
    at = submit(at, "Enregistrer la décision")
    no_failure(at)
    first, second = stub.state.decisions[100002]
    assert second["supersedes"] == first["decided_at"]
    assert second["idempotency_key"] != first["idempotency_key"]
    assert at.dataframe[-1].value["Statut"].tolist() == ["finale", "remplacée"]


def test_the_decision_keeps_its_meaning_across_a_language_switch(
    app: RunApp, stub: StubServer
) -> None:
    """Issue 14: in English the radio showed nothing, yet "Record" wrote "refuse"."""
    at = app(client=100002, tab="decide")
    at.radio(key="decide-choice-100002-fr").set_value("accept")
    at.text_area(key="decide-comment-100002").input("Garant solide.")
    at = submit(at, "Enregistrer la décision")
    at.selectbox(key="decide-reason-100002-fr").select("co_emprunteur")
    at = submit(at, "Enregistrer la décision")  # not confirmed: nothing sent, choices kept
    assert not stub.state.seen("POST", "/clients/100002/decisions")
    at = at.sidebar.radio(key="lang").set_value("en").run()
    no_failure(at)
    assert at.radio(key="decide-choice-100002-en").value == "accept"
    assert at.selectbox(key="decide-reason-100002-en").value == "co_emprunteur"
    assert at.text_area(key="decide-comment-100002").value == "Garant solide."
    # Recording from English is checked in the browser (test_dashboard_browser.py): AppTest
    # does not send a tab's state back, so its next run reopens the first tab.


def test_a_new_applicant_from_scratch(app: RunApp, stub: StubServer) -> None:
    at = app()
    at = at.sidebar.radio(key="view").set_value("new").run()
    no_failure(at)
    assert [t.value for t in at.title] == ["Nouveau demandeur"]
    at.text_input(key="new-0-DAYS_BIRTH-fr").input("40")
    at.text_input(key="new-0-AMT_INCOME_TOTAL-fr").input("250000")
    at.text_input(key="new-0-AMT_CREDIT-fr").input("300000")
    at.text_input(key="new-0-AMT_ANNUITY-fr").input("15000")
    at.text_input(key="new-0-EXT_SOURCE_2-fr").input("0.6")
    at.selectbox(key="new-0-CODE_GENDER-fr").select("F")
    at = submit(at, "Calculer le score")
    no_failure(at)
    application = stub.state.seen("POST", "/score")[-1][1]["application"]
    assert application == {
        "DAYS_BIRTH": -14610,
        "AMT_INCOME_TOTAL": 250000.0,
        "AMT_CREDIT": 300000.0,
        "AMT_ANNUITY": 15000.0,
        "EXT_SOURCE_2": 0.6,
        "CODE_GENDER": "F",
    }
    text = page_text(at)
    assert ":material/check_circle: Accord" in text and "Pourquoi ce score ?" in text
    assert "**Principaux éléments en faveur de l'accord**" in text
    assert not stub.state.seen("POST", "/counterfactual")  # accepted: nothing to change


def test_the_model_page(app: RunApp, stub: StubServer) -> None:
    at = app()
    at = at.sidebar.radio(key="view").set_value("model").run()
    no_failure(at)
    text = page_text(at)
    assert "Fiche du modèle" in text and "stub-model-1" in text
    assert [m.value.replace("\u00a0", " ") for m in at.metric][:2] == ["10,0 %", "0,770"]
    assert "Dérive détectée : 2 variables sur 3 ont changé (66,7 %)." in text
    assert len(charts(at)) == 2  # importance and drift
    stub.state.drift_published = False
    import streamlit as st

    st.cache_data.clear()
    at = at.run()
    no_failure(at)
    assert "Aucune analyse de dérive n'a encore été publiée." in page_text(at)


def test_the_model_card_says_what_the_model_is_for(app: RunApp) -> None:
    at = app(view="model")
    no_failure(at)
    text = page_text(at)
    assert "Usage prévu" in text and "help advisors" in text
    assert "Limites connues" in text and "synthetic data" in text
    assert "empreinte sha256 000000000000" in text


def fairness_tables(at: AppTest) -> list[str]:
    """The HTML tables of the page (markdown elements that hold a <table>)."""
    found = [str(m.value) for m in at.markdown if "<table>" in str(m.value)]
    return [table.replace("\u00a0", " ").replace("\u202f", " ") for table in found]


def test_the_model_page_shows_calibration_and_fairness_by_group(app: RunApp) -> None:
    at = app(view="model")
    no_failure(at)
    text = page_text(at)
    assert "Calibration et équité" in text
    assert "(ECE) 0,1 point, score de Brier 0,066" in text
    assert "Aucune correction : l'ECE ne dépasse pas 1,0 point." in text
    assert (
        "Taux d'accord : femmes 78,0 %, hommes 71,0 % — rapport 0,91 "
        "(règle des quatre cinquièmes respectée)." in text
    )
    # Age: 60.0% against 90.0%, a ratio of 0.67, flagged.
    assert "rapport 0,67 (sous la règle des quatre cinquièmes : écart à examiner)" in text
    assert "de 60,0 % à 65,0 %, soit un écart d'égalité des chances de 5,0 points" in text
    tables = fairness_tables(at)
    assert len(tables) == 3  # gender, age band, family status
    gender = tables[0]
    assert "<caption>Genre : décisions par groupe au seuil de 10,0 %" in gender
    assert '<th scope="col">Taux d\'accord</th>' in gender
    assert '<th scope="row">femmes</th>' in gender
    # The group of 4 clients: its size, no rate.
    other = gender.split('<th scope="row">autre ou non renseigné</th>')[1].split("</tr>")[0]
    assert other.count("—") == 4 and ">4<" in other
    assert '<th scope="row">non renseigné</th>' in tables[2]
    assert "groupe de moins de 50 clients, taux non publiés" in text


def test_the_fairness_table_in_english(app: RunApp) -> None:
    at = app(view="model", lang="en")
    no_failure(at)
    text = page_text(at)
    assert "Approval rate: women 78.0%, men 71.0% — ratio 0.91 (four-fifths rule met)." in text
    assert "ratio 0.67 (below the four-fifths rule: a gap to examine)" in text
    tables = fairness_tables(at)
    assert "<caption>Age: decisions by group at the 10.0% threshold" in tables[1]
    assert '<th scope="col">Good clients refused (false positives)</th>' in tables[0]


def test_a_model_version_without_fairness_figures(
    app: RunApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = stub_api.model_card

    def older(lang: str) -> dict[str, Any]:  # a version trained before they were measured
        answer = card(lang)
        del answer["fairness"], answer["calibration"]
        return answer

    monkeypatch.setattr(stub_api, "model_card", older)
    at = app(view="model")
    no_failure(at)
    assert "Cette version du modèle n'a pas de mesure d'équité." in page_text(at)
    assert fairness_tables(at) == []


def test_english_on_a_switch(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002)
    at = at.sidebar.radio(key="lang").set_value("en").run()
    no_failure(at)
    text = page_text(at)
    assert "Probability of default: **31.0%**" in text
    assert ":material/block: Refuse" in text
    assert [t.value for t in at.title] == ["Client file"]
    assert stub.state.seen("GET", "/clients/100002/explanation")[-1][0]["lang"] == "en"


def test_english_from_the_link(app: RunApp) -> None:
    at = app(lang="en")
    no_failure(at)
    assert "Enter a client number or pick a client" in page_text(at)


# ----------------------------------------------------------------------------- decision first


def markdown_index(at: AppTest, fragment: str) -> int:
    """The position (document order) of the first markdown element containing ``fragment``."""
    for position, element in enumerate(at.markdown):
        if fragment in str(element.value).replace("\u00a0", " ").replace("\u202f", " "):
            return position
    raise AssertionError(f"no markdown with {fragment!r}")


def whole_word(word: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def test_a_borderline_file_is_to_review_not_refused(app: RunApp, stub: StubServer) -> None:
    at = app(
        client=100004, tab="decide"
    )  # 10,2 % against 10,0 %: refused on the score, but borderline
    no_failure(at)
    text = page_text(at)
    # an icon and words, not a colour; a level-2 heading right under the page's title
    assert "## :material/balance: À examiner" in text
    assert (
        "Probabilité de défaut **10,2 %** pour un seuil de **10,0 %** : dans la zone "
        "d'incertitude du modèle, de 8,5 % à 12,0 %." in text
    )
    assert "le modèle ne distingue pas de façon fiable" in text
    assert not whole_word("Refus", text) and not whole_word("Accord", text)
    assert "**Ce qui augmente le plus le risque**" in text  # no "reasons for the refusal"
    assert "Décision du modèle : **:material/balance: À examiner**" in text
    # the advisor decides: nothing proposed, and what was checked is written down
    assert at.radio(key="decide-choice-100004-fr").value is None
    at = submit(at, "Enregistrer la décision")
    assert "Choisissez une décision." in page_text(at)
    at.radio(key="decide-choice-100004-fr").set_value("refuse")
    at = submit(at, "Enregistrer la décision")
    assert "Un commentaire est nécessaire pour un dossier à examiner" in page_text(at)
    assert not stub.state.seen("POST", "/clients/100004/decisions")


def test_a_borderline_file_in_english(app: RunApp) -> None:
    at = app(client=100004, lang="en")
    no_failure(at)
    text = page_text(at)
    assert "## :material/balance: To review" in text
    assert "inside the model's uncertainty zone, from 8.5% to 12.0%" in text
    assert not whole_word("Refuse", text)


def test_a_refusal_shows_what_would_change_it_on_the_first_screen(
    app: RunApp, stub: StubServer
) -> None:
    at = app(client=100002)
    no_failure(at)
    verdict = markdown_index(at, ":material/block: Refus")
    sentence = markdown_index(at, "Accordable jusqu'à 720 000 € sur 20 ans.")
    card = markdown_index(at, "**Identité**")  # the summary card comes after the decision
    assert verdict < sentence < card
    assert markdown_index(at, "**Principaux motifs du refus**") < card
    assert "Ce qui permettrait un accord" in page_text(at)
    # three calls for the first screen, each once (the tabs reuse the answers)
    assert len(stub.state.seen("GET", "/clients/100002/score")) == 1
    assert len(stub.state.seen("GET", "/clients/100002/explanation")) == 1
    assert len(stub.state.seen("GET", "/clients/100002/counterfactual")) == 1


def test_an_accepted_file_asks_no_counterfactual(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001)
    no_failure(at)
    assert not stub.state.seen("GET", "/clients/100001/counterfactual")
    assert markdown_index(at, ":material/check_circle: Accord") < markdown_index(at, "**Identité**")


def test_no_change_suffices_is_said_in_words(app: RunApp, stub: StubServer) -> None:
    summary = "Aucune modification du montant, de l'apport ou de la durée ne suffit."
    stub.state.faults.append(
        Fault(
            "/clients/100002/counterfactual",
            status=200,
            body=stub_api.counterfactual(stub_api.CLIENTS[100002], "fr", 100002)
            | {"found": False, "options": [], "summary": summary},
        )
    )
    at = app(client=100002)
    no_failure(at)
    assert markdown_index(at, summary) < markdown_index(at, "**Identité**")


def test_reasons_are_listed_once(app: RunApp) -> None:
    at = app(client=100002)
    text = page_text(at)
    assert text.count("Principaux motifs du refus") == 1
    for reason in stub_api.explanation(HIGH, "fr", None, 100002)["reasons"][:3]:
        assert text.count(f"· {reason['label']} (") == 1, reason["label"]
        assert reason["sentence"] not in text  # no second list of the same reasons
    assert text.count("1. ▲") == 1  # one numbered list of reasons


def test_the_explanation_speaks_in_points(app: RunApp) -> None:
    at = app(client=100002)
    text = page_text(at)
    assert "log-odds" not in text
    assert "le risque moyen des clients de référence, **7,6 %**" in text
    assert "ensemble (+23,4 pts), ils mènent à la probabilité de ce client, **31,0 %**" in text
    why = [c for c in charts(at) if "facteurs les plus influents" in c.proto.alt]
    assert len(why) == 1
    alt = why[0].proto.alt.replace("\u00a0", " ")
    assert "en points de pourcentage" in alt
    assert "Le plus fort : Scores externes (+8,7 pts)." in alt
    figure = json.loads(why[0].proto.spec)
    bars = figure["data"][0]
    assert "points" in figure["layout"]["xaxis"]["title"]["text"]
    assert len(bars["y"]) == 10  # the slider's default; every factor is one bar
    assert "+8,7 pts" in [t.replace("\u00a0", " ") for t in bars["text"]]
    assert max(abs(x) for x in bars["x"]) == pytest.approx(8.7, abs=0.05)  # points, not 0.6
    # every factor, in a table, also in points
    (table,) = tables(at, "Valeurs du dossier")
    assert len(table) == len(stub_api.FACTORS)
    assert all(str(effect).endswith(("pt", "pts")) for effect in table["Effet"])


def test_what_if_lists_at_most_ten_factors_and_their_change(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    at.text_input(key="whatif-100002-0-AMT_INCOME_TOTAL-fr").input("150000")
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert len(stub_api.FACTORS) > 10
    rows = factor_rows(at)
    assert len(rows) == 10
    (table,) = tables(at, "Écart")
    file_points = {
        f["label"]: f["points"] for f in stub_api.explanation(HIGH, "fr", None, 100002)["factors"]
    }
    simulated = {
        f["label"]: f["points"] for f in stub_api.explanation(LOW, "fr", None, None)["factors"]
    }
    first = table.iloc[0]
    change = simulated[first["Facteur"]] - file_points[first["Facteur"]]
    assert first["Écart"].replace("\u00a0", " ") == (
        f"{'+' if change > 0 else '−'}{abs(change):.1f} pt{'s' if abs(change) >= 2 else ''}"
    ).replace(".", ",")
    (change_chart,) = [c for c in charts(at) if "l'écart d'effet" in c.proto.alt]
    assert len(json.loads(change_chart.proto.spec)["data"][0]["y"]) == 10


def test_what_if_shows_the_band(app: RunApp) -> None:
    at = app(client=100002, tab="whatif")
    at.text_input(key="whatif-100002-0-AMT_INCOME_TOTAL-fr").input("97000")
    at = submit(at, "Recalculer le score")
    no_failure(at)
    text = page_text(at)
    simulated = text[text.index("Score simulé") :]
    assert ":material/balance: À examiner" in simulated
    assert "dans la zone d'incertitude du modèle" in simulated


def test_a_counterfactual_option_can_be_simulated(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    assert "Accordable sur 25 ans au lieu de 20, avec une annuité de 36 000 €." in page_text(at)
    at = submit(at, "Simuler cette possibilité")  # the first: a smaller credit
    no_failure(at)
    sent = stub.state.seen("POST", "/score")[-1][1]["application"]
    assert sent["AMT_CREDIT"] == 720000.0 and sent["AMT_ANNUITY"] == 36000.0
    assert sent["AMT_INCOME_TOTAL"] == 90000.0  # nothing the client cannot change
    assert at.text_input(key="whatif-100002-1-AMT_CREDIT-fr").value == "720\u202f000\u00a0€"
    assert "Champs modifiés : AMT_CREDIT (fr), AMT_ANNUITY (fr)" in page_text(at)


def test_similar_clients_beside_clients_with_a_similar_score(app: RunApp) -> None:
    at = app(client=100002, tab="compare")
    no_failure(at)
    text = page_text(at)
    assert (
        "Parmi les 412 clients de référence dont le score était voisin (25,0 % à 40,0 %), "
        "29,1 % ont fait défaut : c'est ce que mesure le score de 31,0 %." in text
    )
    (rates,) = tables(at, "Taux de défaut")
    rows = dict(zip(rates["Clients"], rates["Taux de défaut"], strict=True))
    assert rows["Les 50 clients de référence les plus similaires"] == "14,0\u00a0%"
    assert (
        rows[
            "Les 412 clients de référence au score voisin (25,0 % à 40,0 %)".replace(
                " %", "\u00a0%"
            )
        ]
        == "29,1\u00a0%"
    )
    (medians,) = tables(at, "Médiane des clients similaires")
    # the features of the score's main factors (external scores, income, loan), not age
    assert set(medians["Caractéristique"]) == {
        "Revenu annuel",
        "Montant du crédit",
        "Moyenne des scores externes",
    }
    row = medians.set_index("Caractéristique").loc["Montant du crédit"]
    assert (row["Ce client"], row["Médiane des clients similaires"]) == (
        "900\u202f000\u00a0€",
        "510\u202f000\u00a0€",
    )


def test_a_new_applicant_without_the_minimum_is_not_sent(app: RunApp, stub: StubServer) -> None:
    at = app(view="new")
    no_failure(at)
    text = page_text(at)
    assert "au moins un score externe" in text  # the API's minimum rule
    assert at.text_input(key="new-0-AMT_INCOME_TOTAL-fr").label == (
        "AMT_INCOME_TOTAL (fr) · obligatoire"
    )
    assert at.text_input(key="new-0-EXT_SOURCE_1-fr").label == (
        "EXT_SOURCE_1 (fr) · obligatoire (un sur 3 suffit)"
    )
    assert at.text_input(key="new-0-DAYS_BIRTH-fr").label == "Âge (années) · obligatoire"
    assert at.selectbox(key="new-0-CODE_GENDER-fr").label == "CODE_GENDER (fr)"
    at = submit(at, "Calculer le score")  # an empty form
    assert not stub.state.seen("POST", "/score")
    assert (
        "Informations insuffisantes pour calculer le score. À compléter : DAYS_BIRTH (fr), "
        "AMT_INCOME_TOTAL (fr), AMT_CREDIT (fr), AMT_ANNUITY (fr), EXT_SOURCE_1 (fr), "
        "EXT_SOURCE_2 (fr) ou EXT_SOURCE_3 (fr)." in page_text(at)
    )
    at.text_input(key="new-0-AMT_INCOME_TOTAL-fr").input("50000")
    at.text_input(key="new-0-AMT_CREDIT-fr").input("300000")
    at.text_input(key="new-0-AMT_ANNUITY-fr").input("15000")
    at.text_input(key="new-0-DAYS_BIRTH-fr").input("30")
    at = submit(at, "Calculer le score")
    assert not stub.state.seen("POST", "/score")
    assert "À compléter : EXT_SOURCE_1 (fr), EXT_SOURCE_2 (fr) ou EXT_SOURCE_3 (fr)." in (
        page_text(at)
    )
    at.text_input(key="new-0-EXT_SOURCE_3-fr").input("0.3")
    at = submit(at, "Calculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")
    # refused: the decision, its reasons and what would change it (POST /counterfactual)
    text = page_text(at)
    assert ":material/block: Refus" in text
    assert "Accordable jusqu'à 240 000 € sur 20 ans." in text
    assert stub.state.seen("POST", "/counterfactual")[-1][0]["lang"] == "fr"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "fr",
            "Informations insuffisantes pour calculer le score. À compléter : AMT_ANNUITY (fr), "
            "EXT_SOURCE_1 (fr), EXT_SOURCE_2 (fr) ou EXT_SOURCE_3 (fr).",
        ),
        (
            "en",
            "Not enough information to compute the score. Still needed: AMT_ANNUITY (en), "
            "EXT_SOURCE_1 (en), EXT_SOURCE_2 (en) or EXT_SOURCE_3 (en).",
        ),
    ],
)
def test_the_apis_insufficient_information_names_the_fields(
    app: RunApp, stub: StubServer, lang: str, expected: str
) -> None:
    missing = ["AMT_ANNUITY", "EXT_SOURCE_1|EXT_SOURCE_2|EXT_SOURCE_3"]
    stub.state.faults.append(Fault("/score", status=422, body=stub_api.insufficient(missing)))
    at = app(view="new", lang=lang)
    for name, value in (
        ("AMT_INCOME_TOTAL", 250000.0),
        ("AMT_CREDIT", 300000.0),
        ("AMT_ANNUITY", 15000.0),
        ("DAYS_BIRTH", 40.0),
        ("EXT_SOURCE_2", 0.6),
    ):
        at.text_input(key=f"new-0-{name}-{lang}").input(f"{value:g}")
    at = submit(at, "Calculer le score" if lang == "fr" else "Compute the score")
    assert not at.exception
    assert len(stub.state.seen("POST", "/score")) == 1  # sent: the dashboard's check passed
    assert expected in page_text(at)
    assert "insufficient_information" not in page_text(at)


# ----------------------------------------------------------------------------- faults


def test_api_down_is_a_message_not_a_traceback(app: RunApp, stub: StubServer) -> None:
    stub.stop()
    at = app(client=100001)
    assert not at.exception
    assert "Le service de scoring ne répond pas" in page_text(at)
    assert "API indisponible" in page_text(at)


def test_a_slow_api_is_a_message(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/clients/100001/score", delay=3.0, times=1))
    at = app(client=100001)
    assert not at.exception
    text = page_text(at)
    assert "met trop de temps à répondre" in text
    assert "Client 100001" in text  # the rest of the page is still there


def test_a_wrong_token_is_a_message(app: RunApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "wrong")
    at = app(client=100001)
    # /health is open on the real API; the first advisor route says why it fails
    assert not at.exception
    assert "Accès refusé" in page_text(at)


def test_no_token_at_all_says_how_to_configure(
    app: RunApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("API_TOKEN")
    at = app()
    assert not at.exception
    assert "API_URL et API_TOKEN" in page_text(at)


def test_an_unknown_client_is_a_message(app: RunApp) -> None:
    at = app(client=999)
    assert not at.exception
    assert "Aucun nouveau client n'a le numéro 999" in page_text(at)
    assert at.expander[0].proto.expanded  # the finder is open to try again


def test_a_client_without_a_score_is_a_message(app: RunApp) -> None:
    at = app(client=100003)  # on file, but the score route answers 404
    assert not at.exception
    assert "Ce client est introuvable" in page_text(at)


def test_a_refused_value_is_a_message(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/score", status=422))
    at = app(client=100002, tab="whatif")
    at = submit(at, "Recalculer le score")
    assert not at.exception
    assert "une valeur n'est pas valable : AMT_CREDIT: must be >= 0" in page_text(at)


def test_a_503_is_retried(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/clients/100001/score", status=503, times=2))
    at = app(client=100001)
    no_failure(at)
    assert len(stub.state.seen("GET", "/clients/100001/score")) == 3
    assert ":material/check_circle: Accord" in page_text(at)


def test_a_lasting_503_is_a_message(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/clients/100001/explanation", status=503))
    at = app(client=100001)
    assert not at.exception
    text = page_text(at)
    assert "momentanément indisponible" in text
    assert ":material/check_circle: Accord" in text  # the score still shows


def test_a_typed_id_wins_over_an_earlier_pick_from_the_list(app: RunApp) -> None:
    at = app()
    at = open_from_worklist(at, 100001)
    assert "Client 100001" in page_text(at)
    at.session_state["finder-100001"] = True  # the finder loads when opened
    at = at.run()
    at.text_input(key="find-id-text").input("100002")
    at = submit(at, "Ouvrir le dossier")
    no_failure(at)
    assert "Client 100002" in page_text(at) and "Client 100001" not in page_text(at)


def test_a_typed_number_that_is_not_one_opens_no_file(app: RunApp, stub: StubServer) -> None:
    at = app()
    at.text_input(key="find-id-text").input("10000l")
    at = submit(at, "Ouvrir le dossier")
    assert not at.exception
    said = [str(w.value).replace("\u00a0", " ") for w in at.warning]
    assert said == ["La demande a été refusée car une valeur n'est pas valable : Numéro de client"]
    assert "client" not in at.query_params and "client_id" not in at.session_state
    assert not stub.state.seen("GET", "/clients/10000l")
    at.text_input(key="find-id-text").input("100002")
    at = submit(at, "Ouvrir le dossier")  # the message goes, the file opens
    no_failure(at)
    assert not at.warning and "Client 100002" in page_text(at)


def test_a_decision_is_never_posted_twice(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/clients/100002/decisions", status=503, times=1, method="POST"))
    at = app(client=100002, tab="decide")
    at.text_area(key="decide-comment-100002").input("Revenus insuffisants.")
    at = submit(at, "Enregistrer la décision")
    assert not at.exception
    assert len(stub.state.seen("POST", "/clients/100002/decisions")) == 1  # no retry
    assert "momentanément indisponible" in page_text(at)


def test_a_too_small_group_falls_back_to_every_client(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001, tab="compare")
    stub.state.faults.append(Fault("/clients/100001/comparison", status=422, times=1))
    stub.state.group_too_small = True
    at = at.selectbox(key="filter-gender-100001-fr").select("male").run()
    assert not at.exception
    text = page_text(at)
    assert "Ce groupe de comparaison est trop petit" in text
    assert "Groupe : 1 000 clients" in text  # every reference client instead
    assert "Parmi les 50 clients de référence les plus proches" in text


def test_a_simulation_follows_the_language(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    at.text_input(key="whatif-100002-0-AMT_INCOME_TOTAL-fr").input("150000")
    at = submit(at, "Recalculer le score")
    assert "Scores externes" in factor_rows(at)
    at = at.sidebar.radio(key="lang").set_value("en").run()
    no_failure(at)
    text = page_text(at)
    assert "External scores" in factor_rows(at)
    assert "Fields changed: AMT_INCOME_TOTAL (en)" in text
    assert stub.state.seen("POST", "/explain")[-1][0]["lang"] == "en"
    assert len(stub.state.seen("POST", "/score")) == 1  # the score is not asked again


def test_no_pale_captions(app: RunApp) -> None:
    at = app(client=100001)
    assert not at.caption  # Streamlit draws captions at 60 % opacity: under 4.5:1


def test_the_token_is_sent_and_never_shown(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001)
    assert TOKEN not in page_text(at)
    assert stub.state.seen("GET", "/clients/100001")


# ----------------------------------------------------------------------------- Cognito sign-in


@pytest.fixture
def cognito(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> StubServer:
    """The dashboard as hosted in front of AWS: advisors sign in, no fixed token."""
    monkeypatch.delenv("API_TOKEN")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "stub-client")
    monkeypatch.setenv("COGNITO_USER_POOL_ID", STUB_POOL_ID)
    monkeypatch.setenv("COGNITO_ENDPOINT", f"{stub.url}/cognito")
    return stub


def sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="sign-in-email").input(email)
    at.text_input(key="sign-in-pw").input(password)
    return submit(at, "Se connecter")


def test_an_advisor_signs_in_and_works_under_their_own_token(
    app: RunApp, cognito: StubServer
) -> None:
    at = app(client=100002)
    no_failure(at)
    assert [t.value for t in at.title] == ["Connexion des conseillers"]
    assert not cognito.state.seen("GET", "/clients/100002")  # nothing before signing in
    at = sign_in(at, "advisor@example.com", "Correct-horse-42")
    no_failure(at)
    assert ":material/block: Refus" in page_text(at)
    assert cognito.state.issued  # the API was called with Cognito's token
    assert "id-token" not in page_text(at)
    at = submit(at, "Se déconnecter")
    assert [t.value for t in at.title] == ["Connexion des conseillers"]


def test_a_wrong_password_is_refused_in_words(app: RunApp, cognito: StubServer) -> None:
    at = sign_in(app(), "advisor@example.com", "wrong")
    assert not at.exception
    assert "Connexion refusée : Incorrect username or password." in page_text(at)


def test_an_expired_first_sign_in_starts_again(app: RunApp, cognito: StubServer) -> None:
    at = sign_in(app(), "new@example.com", "Temporary-pass-1")
    at.session_state["auth-challenge"]["session"] = "expired"
    at.text_input(key="new-pw-1").input("Brand-new-pass-9")
    at.text_input(key="new-pw-2").input("Brand-new-pass-9")
    at = submit(at, "Se connecter")
    assert "Connexion refusée" in page_text(at)
    at = at.run()
    assert at.text_input(key="sign-in-email")  # back to the e-mail form


def test_a_first_sign_in_sets_a_new_password(app: RunApp, cognito: StubServer) -> None:
    at = sign_in(app(), "new@example.com", "Temporary-pass-1")
    assert "Première connexion" in page_text(at)
    at.text_input(key="new-pw-1").input("Brand-new-pass-9")
    at.text_input(key="new-pw-2").input("Brand-new-pass-9")
    at = submit(at, "Se connecter")
    no_failure(at)
    assert [t.value for t in at.title] == ["Dossier client"]
    assert cognito.state.users["new@example.com"] == ["Brand-new-pass-9", False, None]


def test_the_password_never_travels_srp_is_used(app: RunApp, cognito: StubServer) -> None:
    at = sign_in(app(), "advisor@example.com", "Correct-horse-42")
    no_failure(at)
    sent = json.dumps([body for _, _, _, body in cognito.state.requests])
    assert "Correct-horse-42" not in sent  # pragma: allowlist secret
    assert "USER_SRP_AUTH" in sent and "PASSWORD_CLAIM_SIGNATURE" in sent


def test_an_advisor_with_an_authenticator_app_gives_its_code(
    app: RunApp, cognito: StubServer
) -> None:
    at = sign_in(app(), "totp@example.com", "Correct-horse-43")
    assert "application d'authentification" in page_text(at)
    at.text_input(key="totp-code").input("000000")
    at = submit(at, "Se connecter")
    assert "Connexion refusée : Invalid code." in page_text(at)
    at = sign_in(at.run(), "totp@example.com", "Correct-horse-43")
    at.text_input(key="totp-code").input("246810")
    at = submit(at, "Se connecter")
    no_failure(at)
    assert [t.value for t in at.title] == ["Dossier client"]


def test_a_pool_id_is_required_to_sign_in(
    app: RunApp, cognito: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COGNITO_USER_POOL_ID")
    at = sign_in(app(), "advisor@example.com", "Correct-horse-42")
    assert "COGNITO_USER_POOL_ID is not set" in page_text(at)


def test_an_expiring_token_is_refreshed(app: RunApp, cognito: StubServer) -> None:
    cognito.state.token_lifetime = 60  # under the refresh margin: refreshed at once
    at = sign_in(app(), "advisor@example.com", "Correct-horse-42")
    first = at.session_state["auth"]["id_token"]
    at = at.run()
    no_failure(at)
    assert at.session_state["auth"]["id_token"] != first
    assert at.session_state["auth"]["refresh_token"] == "refresh-advisor@example.com"


# ----------------------------------------------------------------------------- the API's facts


def gauges(at: AppTest) -> list[tuple[dict[str, Any], str]]:
    """Every gauge on the page: its plotly figure (as sent to the browser) and its alt text."""
    found = []
    for chart in charts(at):
        figure = json.loads(chart.proto.spec)
        if figure["data"] and figure["data"][0].get("type") == "indicator":
            found.append((figure, str(chart.proto.alt)))
    return found


def test_the_gauge_marks_the_threshold_where_the_api_puts_it(app: RunApp, stub: StubServer) -> None:
    # a threshold no other figure of the page has: a marker placed anywhere else shows
    answer = stub_api.score(0.2, 100002) | {
        "threshold": 0.137,
        "borderline": {"lower": 0.121, "upper": 0.158},
        "margin": 0.2 - 0.137,
    }
    stub.state.faults.append(Fault("/clients/100002/score", status=200, body=answer))
    at = app(client=100002)
    no_failure(at)
    ((figure, alt),) = gauges(at)
    gauge = figure["data"][0]["gauge"]
    assert gauge["threshold"]["value"] == pytest.approx(13.7, abs=1e-9)  # percent, exactly
    low, high = gauge["axis"]["range"]
    assert low <= gauge["threshold"]["value"] <= high  # on the dial, not off its end
    assert figure["data"][0]["value"] == pytest.approx(20.0, abs=1e-9)
    # the zone to review is the API's interval, and the marker sits inside it
    zones = [step["range"] for step in gauge["steps"]]
    assert zones[1] == pytest.approx([12.1, 15.8], abs=1e-9)
    assert zones[0][1] == zones[1][0] and zones[1][1] == zones[2][0]  # no gap, no overlap
    assert "seuil 13,7 %" in alt.replace("\u00a0", " ")


def test_the_page_says_the_apis_decision_even_against_its_figures(
    app: RunApp, stub: StubServer
) -> None:
    # 30 % against a 10 % threshold, yet the API accepts: the page must not judge for itself
    answer = stub_api.score(0.30, 100002) | {"decision": "accept", "band": "clear"}
    stub.state.faults.append(Fault("/clients/100002/score", status=200, body=answer))
    at = app(client=100002, tab="decide")
    no_failure(at)
    ((figure, alt),) = gauges(at)
    assert "décision\u00a0: Accord" in alt and not whole_word("Refus", alt)
    assert figure["data"][0]["value"] == pytest.approx(30.0)  # the figures are the API's too
    assert figure["data"][0]["gauge"]["threshold"]["value"] == pytest.approx(10.0)
    text = page_text(at)
    assert "## :material/check_circle: Accord" in text  # the banner
    assert "Décision du modèle : **:material/check_circle: Accord**" in text
    assert not whole_word("Refus", text)
    assert at.radio(key="decide-choice-100002-fr").value == "accept"  # what is proposed


#: The summary card's titles (the dashboard's words) in the order the real API sends sections.
CARD_SECTIONS = (
    "Identité",
    "Famille",
    "Emploi",
    "Logement",
    "Demande de crédit",
    "Finances",
    "Scores externes",
)


def test_the_card_follows_the_apis_section_order(
    app: RunApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(client=100001)
    no_failure(at)
    order = [markdown_index(at, f"**{title}**") for title in CARD_SECTIONS]
    assert order == sorted(order)  # identity, family, employment, housing, loan, ...
    # whatever order the API sends the fields in, first appearance decides
    answer = stub_api.details(100001, "fr")
    shuffled = [*reversed(answer["fields"])]
    shuffled.append(
        {
            "name": "X",
            "label": "Nouveau",
            "section": "savings",
            "value": 1,
            "unit": None,
            "text": "1",
        }
    )
    monkeypatch.setattr(stub_api, "details", lambda client_id, lang: answer | {"fields": shuffled})
    import streamlit as st

    st.cache_data.clear()
    at = app(client=100001)
    no_failure(at)
    titles = [*reversed(CARD_SECTIONS), "Autres informations"]
    order = [markdown_index(at, f"**{title}**") for title in titles]
    assert order == sorted(order)
    assert "Nouveau : **1**" in page_text(at)  # a section the dashboard has no title for


def test_the_group_filters_are_the_apis(
    app: RunApp, stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_inputs = stub_api.inputs
    region = {
        "name": "region",
        "label": "Région",
        "levels": [{"value": "north", "text": "nord"}, {"value": "south", "text": "sud"}],
    }

    def inputs(lang: str) -> dict[str, Any]:
        answer = real_inputs(lang)
        gender = next(g for g in answer["groups"] if g["name"] == "gender")
        return answer | {"groups": [region, gender | {"label": "Sexe (API)"}]}

    monkeypatch.setattr(stub_api, "inputs", inputs)
    at = app(client=100001, tab="compare")
    no_failure(at)
    filters = [box for box in at.selectbox if str(box.key).startswith("filter-")]
    assert [box.key for box in filters] == ["filter-region-100001-fr", "filter-gender-100001-fr"]
    # the API's label for a group the dashboard has no words for, its own title otherwise
    assert [box.label for box in filters] == ["Région", "Genre"]
    assert filters[0].options == ["Tous", "nord", "sud"]  # the client has no level: no "same"
    at = at.selectbox(key="filter-region-100001-fr").select("south").run()
    no_failure(at)
    assert stub.state.seen("GET", "/clients/100001/comparison")[-1][0]["region"] == "south"


# ----------------------------------------------------------------------------- French everywhere


def widget_words(at: AppTest | Block) -> list[str]:
    """The words every widget shows: labels, and the options of the choice boxes."""
    words: list[str] = []
    for kind in ("selectbox", "multiselect", "radio", "text_input", "checkbox", "slider"):
        for widget in getattr(at, kind):
            words.append(str(widget.label))
            words.extend(str(option) for option in getattr(widget, "options", []) or [])
    for kind in ("button",):
        words.extend(str(widget.label) for widget in getattr(at, kind))
    return words


def test_every_category_level_of_the_reference_schema_reads_in_french(app: RunApp) -> None:
    """The new applicant's form shows every level of every category in French (from the API)."""
    from creditscore_common.labels import level_text

    at = app(view="new")
    no_failure(at)
    shown = {
        str(box.key).removeprefix("new-0-").removesuffix("-fr"): list(box.options)
        for box in at.selectbox
        if str(box.key).startswith("new-0-")
    }
    assert {"NAME_CONTRACT_TYPE", "NAME_INCOME_TYPE", "OCCUPATION_TYPE"} <= set(shown)
    for column, options in shown.items():
        raw_levels = stub_api.LEVELS[column]
        assert options[1:] == [level_text(level, "fr", column) for level in raw_levels]
        untranslated = set(options) & set(raw_levels)
        assert not untranslated, f"{column} shows raw levels: {untranslated}"
    assert "salarié" in shown["NAME_INCOME_TYPE"]
    assert "crédit renouvelable" in shown["NAME_CONTRACT_TYPE"]


@pytest.mark.parametrize("words", ["salarié", "Salarie", "Working"])
def test_a_search_in_french_finds_the_salaried_clients(app: RunApp, words: str) -> None:
    at = app()
    at = at.text_input(key="find-q").input(words).run()
    no_failure(at)
    rows = worklist_rows(at)
    salaried = [
        cid for cid, c in stub_api.CLIENTS.items() if c.get("NAME_INCOME_TYPE") == "Working"
    ]
    assert len(salaried) == 3
    assert worklist_ids(at) == sorted(salaried)
    assert len(rows) == 3 and all("salarié" in row for row in rows)  # it reads in French


def test_the_client_list_reads_in_french_with_euros(app: RunApp) -> None:
    at = app()
    no_failure(at)
    first = worklist_rows(at)[0]  # 100001's
    assert "prêt personnel" in first and "salarié" in first
    assert "revenu 180\u202f000\u00a0€" in first and "crédit 500\u202f000\u00a0€" in first


def test_the_landing_field_asks_for_a_client_number(app: RunApp) -> None:
    at = app()
    box = at.text_input(key="find-id-text")
    assert box.label == "Numéro de client"
    assert "SK_ID_CURR" not in " ".join(widget_words(at))


def show_tab(at: AppTest, name: str, client_id: int, lang: Lang = "fr") -> AppTest:
    """The file drawn again with its tab ``name`` open (a tab loads only when opened)."""
    from dashboard.client_page import tab_label

    at.session_state[f"file-tab-{client_id}-{lang}"] = tab_label(name, lang)
    return at.run()


def every_part(at: AppTest, client_id: int, lang: Lang) -> Iterator[tuple[str, AppTest]]:
    """The file with its finder unfolded and each tab opened in turn (they load when opened).

    Yields the tab's name and the page drawn with it open; fails if the finder or a tab
    draws no widget (one that did not load would otherwise pass every check on its widgets).
    """
    from dashboard.client_page import FILE_TABS, tab_label

    at.session_state[f"finder-{client_id}"] = True
    for name in FILE_TABS:
        at = show_tab(at, name, client_id, lang)
        no_failure(at)
        assert at.text_input(key="find-id-text"), "the finder did not load"
        opened = [tab for tab in at.tabs if tab.label == tab_label(name, lang)]
        assert len(opened) == 1 and widget_words(opened[0]), f"the {name!r} tab drew no widget"
        yield name, at


def test_after_the_english_switch_no_widget_speaks_french(app: RunApp) -> None:
    """Finder, filters, what-if form, decision: every widget re-drawn in English, choices kept."""
    from dashboard import i18n

    at = app(client=100001, tab="compare")
    at = at.selectbox(key="filter-gender-100001-fr").select("same").run()
    at = show_tab(at, "whatif", 100001)
    at.text_input(key="whatif-100001-0-AMT_INCOME_TOTAL-fr").input("200 000 €")
    at = submit(at, "Recalculer le score")
    at = at.sidebar.radio(key="lang").set_value("en").run()  # on the "what if" tab
    no_failure(at)
    french_only = {
        i18n.t(key, "fr") for key in i18n.text_keys() if i18n.t(key, "fr") != i18n.t(key, "en")
    } | {"marié(e)", "salarié", "prêt personnel", "Tous"}
    checked = []
    for name, page in every_part(at, 100001, "en"):
        words = widget_words(page)
        spoken = sorted(
            w for w in words if w in french_only or any(f in w for f in ("é", "è", "à "))
        )
        assert not spoken, f"French left in the {name!r} tab's widgets after the switch: {spoken}"
        assert page.text_input(key="find-id-text").label == "Client number"  # the finder too
        # the advisor's choices survive the switch, in the new language's words, even those
        # of a tab that was not open at the switch
        if name == "compare":
            assert page.selectbox(key="filter-gender-100001-en").value == "same"
        if name == "whatif":
            income = page.text_input(key="whatif-100001-0-AMT_INCOME_TOTAL-en")
            assert income.value == "€200,000"
            family = page.selectbox(key="whatif-100001-0-NAME_FAMILY_STATUS-en")
            assert family.value == "Married" and "Married" in family.options
        checked.append(name)
    assert checked == ["why", "compare", "whatif", "decide"]


def test_a_number_is_typed_and_shown_in_the_advisors_format(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    credit = at.text_input(key="whatif-100002-0-AMT_CREDIT-fr")
    assert credit.value == "900\u202f000\u00a0€"
    credit.input("1 204 669 €")
    at.text_input(key="whatif-100002-0-AMT_INCOME_TOTAL-fr").input("150000")
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")[-1][1]["application"]["AMT_CREDIT"] == 1204669.0


def test_a_number_that_is_not_one_is_said_and_not_sent(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002, tab="whatif")
    at.text_input(key="whatif-100002-0-AMT_CREDIT-fr").input("beaucoup")
    at = submit(at, "Recalculer le score")
    assert not stub.state.seen("POST", "/score")
    text = page_text(at)
    assert "« beaucoup » n'est pas un nombre" in text
    assert "Corrigez d'abord ces champs : AMT_CREDIT (fr)" in text


def forms_of(node: Any) -> list[Any]:
    """Every st.form block under ``node`` (AppTest's element tree)."""
    found = []
    for child in getattr(node, "children", {}).values():
        if getattr(child, "type", None) == "form":
            found.append(child)
        found.extend(forms_of(child))
    return found


def test_forms_do_not_show_streamlits_english_enter_hint(app: RunApp) -> None:
    """st.form(enter_to_submit=False): no "Press Enter to submit form" under the boxes."""
    forms: dict[str, Any] = {}
    for _, at in every_part(app(client=100002), 100002, "fr"):
        forms |= {child.proto.form.form_id: child.proto.form for child in forms_of(at._tree)}
    at = app(view="new")
    forms |= {child.proto.form.form_id: child.proto.form for child in forms_of(at._tree)}
    assert {"find-id", "whatif-100002", "decide-100002"} <= set(forms)
    assert not [name for name, form in forms.items() if form.enter_to_submit]
