"""The dashboard through Streamlit's AppTest, against the stubbed API: the advisor's journey.

Find a client (by ID and from the list), summary card, score and decision, why, compare,
what if, record a decision, a new applicant, the model page; French and English; and what an
advisor sees when the API is down, slow, or answers 401/404/422/503.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from stub_api import HIGH, LOW, TOKEN, Fault, StubServer

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


def submit(at: AppTest, label: str) -> AppTest:
    buttons = [b for b in at.button if b.label == label]
    assert buttons, f"no button {label!r}: {[b.label for b in at.button]}"
    return buttons[0].click().run()


# ----------------------------------------------------------------------------- the journey


def test_the_landing_page_asks_for_a_client(app: RunApp) -> None:
    at = app()
    no_failure(at)
    assert [t.value for t in at.title] == ["Dossier client"]
    text = page_text(at)
    assert "Saisissez un identifiant" in text
    assert "API disponible · modèle stub-model-1" in text
    # the list of new clients is offered to browse
    assert at.selectbox(key="find-pick-1-").options


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
    assert "Nettement au-dessus du seuil : 21,0 points de trop (31,0 % contre 10,0 %)." in text
    assert "10 fois plus" in text  # the business cost behind the threshold
    # why: a refusal lists its main reasons first
    assert "Motifs principaux du refus" in text
    reasons = text.index("Motifs principaux du refus")
    assert text.index("Score externe 2 (0,20) augmente", reasons) > reasons
    assert "Principales raisons du refus" in text
    # the deep link follows the client
    assert at.query_params["client"] == ["100002"] or at.query_params["client"] == "100002"
    # every chart has a text alternative, written under it too
    shown = charts(at)
    assert len(shown) >= 4  # gauge, contributions, distributions, bivariate
    for chart in shown:
        assert chart.proto.alt, "a chart without a text alternative"
        assert chart.proto.alt.replace("\u00a0", " ").replace("\u202f", " ") in text
    assert stub.state.seen("GET", "/clients/100002/score")


def test_browse_the_list_and_pick_a_client(app: RunApp) -> None:
    at = app()
    pick = at.selectbox(key="find-pick-1-")
    assert 100001 in pick.options or "100001" in str(pick.options)
    at = pick.select(100001).run()
    no_failure(at)
    text = page_text(at)
    assert "Client 100001" in text
    assert ":material/check_circle: Accord" in text
    assert "Principaux éléments en faveur de l'accord" in text
    assert "Motifs principaux du refus" not in text


def test_search_narrows_the_list(app: RunApp, stub: StubServer) -> None:
    at = app()
    at = at.text_input(key="find-q").input("100002").run()
    no_failure(at)
    assert stub.state.seen("GET", "/clients")[-1][0]["q"] == "100002"
    assert (
        at.selectbox(key="find-pick-1-100002").options == ["100002"]
        or len(at.selectbox(key="find-pick-1-100002").options) == 1
    )


def test_a_deep_link_opens_the_client(app: RunApp) -> None:
    at = app(client=100001)
    no_failure(at)
    assert "Client 100001" in page_text(at)


def test_compare_with_a_filtered_group(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001)
    text = page_text(at)
    assert "Groupe : 1 000 clients de référence, dont 100 en défaut (10,0 %)." in text
    assert "plus que 55 % des clients du groupe" in text
    assert "Les effectifs inférieurs à 5 ne sont pas publiés" in text
    assert "Parmi les 50 clients de référence les plus proches" in text
    at = at.selectbox(key="filter-gender-100001").select("same").run()
    no_failure(at)
    asked = stub.state.seen("GET", "/clients/100001/comparison")[-1][0]
    assert asked["gender"] == "same"
    assert "Groupe : 400 clients" in page_text(at)
    gender = at.selectbox(key="filter-gender-100001")
    assert gender.options == ["Tous", "Comme le client (femme)", "femme", "homme"]
    at = gender.select("male").run()
    assert stub.state.seen("GET", "/clients/100001/comparison")[-1][0]["gender"] == "male"
    # pick the compared features
    at = at.multiselect(key="compare-features-100001").select("AMT_CREDIT").run()
    no_failure(at)
    assert "Montant du crédit" in page_text(at)
    # the bivariate view follows the chosen axes
    at = at.selectbox(key="biv-y-100001").select("EXT_SOURCE_MEAN").run()
    no_failure(at)
    asked = stub.state.seen("GET", "/clients/100001/bivariate")[-1][0]
    assert asked["y"] == "EXT_SOURCE_MEAN"


def test_what_if_changes_the_score(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002)
    income = at.number_input(key="whatif-100002-0-AMT_INCOME_TOTAL")
    assert income.value == 90000.0
    income.set_value(150000.0)
    at = submit(at, "Recalculer le score")
    no_failure(at)
    body = stub.state.seen("POST", "/score")[-1][1]
    assert body["application"]["AMT_INCOME_TOTAL"] == 150000.0
    # the other fields are the client's own
    assert body["application"]["AMT_CREDIT"] == 900000.0
    assert body["application"]["DAYS_EMPLOYED"] == -300.0
    assert stub.state.seen("POST", "/explain")
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
    at = app(client=100001)
    at.checkbox(key="whatif-100001-0-DAYS_EMPLOYED-none").check()
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")[-1][1]["application"]["DAYS_EMPLOYED"] == 365243.0


def test_what_if_changes_the_employment_in_years(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001)
    years = at.number_input(key="whatif-100001-0-DAYS_EMPLOYED")
    assert years.value == 5.5  # 2000 days
    years.set_value(10.0)
    at = submit(at, "Recalculer le score")
    no_failure(at)
    assert stub.state.seen("POST", "/score")[-1][1]["application"]["DAYS_EMPLOYED"] == -3652


def test_record_a_decision_and_see_it(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002)
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
    table = at.table[-1].value
    assert "Revenus insuffisants, vu avec le client." in table.to_string()


def test_overriding_the_model_needs_a_reason(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002)
    at.radio(key="decide-choice-100002").set_value("accept")
    at = submit(at, "Enregistrer la décision")
    assert "Un commentaire est nécessaire" in page_text(at)
    assert not stub.state.seen("POST", "/clients/100002/decisions")
    at.text_area(key="decide-comment-100002").input("Garant solide.")
    at = submit(at, "Enregistrer la décision")
    no_failure(at)
    assert stub.state.seen("POST", "/clients/100002/decisions")[-1][1]["decision"] == "accept"


def test_a_new_applicant_from_scratch(app: RunApp, stub: StubServer) -> None:
    at = app()
    at = at.sidebar.radio(key="view").set_value("new").run()
    no_failure(at)
    assert [t.value for t in at.title] == ["Nouveau demandeur"]
    at.number_input(key="new-0-DAYS_BIRTH").set_value(40.0)
    at.number_input(key="new-0-AMT_INCOME_TOTAL").set_value(250000.0)
    at.number_input(key="new-0-AMT_CREDIT").set_value(300000.0)
    at.selectbox(key="new-0-CODE_GENDER").select("F")
    at = submit(at, "Calculer le score")
    no_failure(at)
    application = stub.state.seen("POST", "/score")[-1][1]["application"]
    assert application == {
        "DAYS_BIRTH": -14610,
        "AMT_INCOME_TOTAL": 250000.0,
        "AMT_CREDIT": 300000.0,
        "CODE_GENDER": "F",
    }
    text = page_text(at)
    assert ":material/check_circle: Accord" in text and "Pourquoi ce score ?" in text


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
    assert "Enter an ID or pick a client" in page_text(at)


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
    assert "Aucun nouveau client n'a l'identifiant 999" in page_text(at)
    assert at.expander[0].proto.expanded  # the finder is open to try again


def test_a_client_without_a_score_is_a_message(app: RunApp) -> None:
    at = app(client=100003)  # on file, but the score route answers 404
    assert not at.exception
    assert "Ce client est introuvable" in page_text(at)


def test_a_refused_value_is_a_message(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/score", status=422))
    at = app(client=100002)
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
    at = at.selectbox(key="find-pick-1-").select(100001).run()
    assert "Client 100001" in page_text(at)
    at.text_input(key="find-id-text").input("100002")
    at = submit(at, "Ouvrir le dossier")
    no_failure(at)
    assert "Client 100002" in page_text(at) and "Client 100001" not in page_text(at)


def test_a_decision_is_never_posted_twice(app: RunApp, stub: StubServer) -> None:
    stub.state.faults.append(Fault("/clients/100002/decisions", status=503, times=1, method="POST"))
    at = app(client=100002)
    at.text_area(key="decide-comment-100002").input("Revenus insuffisants.")
    at = submit(at, "Enregistrer la décision")
    assert not at.exception
    assert len(stub.state.seen("POST", "/clients/100002/decisions")) == 1  # no retry
    assert "momentanément indisponible" in page_text(at)


def test_a_too_small_group_falls_back_to_every_client(app: RunApp, stub: StubServer) -> None:
    at = app(client=100001)
    stub.state.faults.append(Fault("/clients/100001/comparison", status=422, times=1))
    stub.state.group_too_small = True
    at = at.selectbox(key="filter-gender-100001").select("male").run()
    assert not at.exception
    text = page_text(at)
    assert "Ce groupe de comparaison est trop petit" in text
    assert "Groupe : 1 000 clients" in text  # every reference client instead
    assert "Parmi les 50 clients de référence les plus proches" in text


def test_a_simulation_follows_the_language(app: RunApp, stub: StubServer) -> None:
    at = app(client=100002)
    at.number_input(key="whatif-100002-0-AMT_INCOME_TOTAL").set_value(150000.0)
    at = submit(at, "Recalculer le score")
    assert "Score externe 2 (0,20) diminue le risque de défaut." in page_text(at)
    at = at.sidebar.radio(key="lang").set_value("en").run()
    no_failure(at)
    text = page_text(at)
    assert "External score 2 (0,20) lowers the risk of default." in text
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
    assert cognito.state.users["new@example.com"] == ["Brand-new-pass-9", False]


def test_an_expiring_token_is_refreshed(app: RunApp, cognito: StubServer) -> None:
    cognito.state.token_lifetime = 60  # under the refresh margin: refreshed at once
    at = sign_in(app(), "advisor@example.com", "Correct-horse-42")
    first = at.session_state["auth"]["id_token"]
    at = at.run()
    no_failure(at)
    assert at.session_state["auth"]["id_token"] != first
    assert at.session_state["auth"]["refresh_token"] == "refresh-advisor@example.com"
