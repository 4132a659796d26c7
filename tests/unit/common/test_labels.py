"""Labels and readable values: every feature named in both languages, units written by hand."""

from __future__ import annotations

import math

import pytest

from creditscore_common import clients
from creditscore_common.features import DOMAIN_FEATURES, EMPLOYMENT_ANOMALY_FEATURE, FeatureSpec
from creditscore_common.labels import (
    LANGUAGES,
    Label,
    column_label,
    dictionary_descriptions,
    feature_label,
    feature_labels,
    format_derived_value,
    format_number,
    format_percent,
    format_value,
    level_labels,
    level_text,
    levels_matching,
    raw_column_labels,
)
from creditscore_common.reference_schema import load_schema
from creditscore_common.store.base import SEARCH_FIELDS, matches_search, search_terms
from creditscore_common.store.local import LocalStore
from training.train import TrainingResult

NBSP = "\u00a0"
NNBSP = "\u202f"  # between thousands


# ---------------------------------------------------------------------------- coverage


def test_every_application_column_has_its_own_label_in_both_languages() -> None:
    labels = raw_column_labels()
    names = load_schema().application_names
    assert len(names) == 120
    assert list(labels) == list(names)
    for name, label in labels.items():
        for lang in LANGUAGES:
            text = label.text(lang)
            assert text.strip(), f"{name}: empty {lang} label"
            assert text != name, f"{name}: the {lang} label is the code"
            assert "_" not in text, f"{name}: {text!r} looks like a code"
    for lang in LANGUAGES:
        texts = [label.text(lang) for label in labels.values()]
        duplicates = {t for t in texts if texts.count(t) > 1}
        assert not duplicates, f"two columns read the same in {lang}: {duplicates}"


def test_descriptions_come_from_the_dictionary() -> None:
    descriptions = dictionary_descriptions()
    assert len(descriptions) >= 120
    assert column_label("AMT_CREDIT").description == "Credit amount of the loan"
    assert column_label("DAYS_BIRTH").description == descriptions["DAYS_BIRTH"]
    # The public file's broken character is repaired, not passed on.
    assert "Ã" not in column_label("NAME_INCOME_TYPE").description
    assert all(label.description for label in raw_column_labels().values())


def test_domain_features_and_the_employment_flag_are_labelled() -> None:
    for feature in (*DOMAIN_FEATURES, EMPLOYMENT_ANOMALY_FEATURE):
        label = feature_label(feature, {"column": feature, "kind": "domain"})
        assert label.fr and label.en and label.description
        assert label.fr != feature and label.en != feature


def test_level_features_read_column_then_level() -> None:
    origin = {"column": "NAME_CONTRACT_TYPE", "kind": "level", "level": "Cash loans"}
    label = feature_label("NAME_CONTRACT_TYPE__Cash_loans", origin)
    assert label == Label(
        "Type de contrat\u00a0: prêt personnel",  # the colon never wraps alone
        "Contract type: Cash loans",
        "Identification if loan is cash or revolving (1 when the value is 'Cash loans')",
    )
    coded = feature_label(
        "FLAG_OWN_CAR__Y", {"column": "FLAG_OWN_CAR", "kind": "level", "level": "Y"}
    )
    assert (coded.fr, coded.en) == ("Propriétaire d'une voiture\u00a0: oui", "Owns a car: yes")


@pytest.mark.xdist_group("trained_model")
def test_every_feature_of_a_trained_model_is_labelled(trained_model: TrainingResult) -> None:
    spec = FeatureSpec.from_dict(trained_model.metadata["feature_spec"])
    labels = feature_labels(spec)
    assert list(labels) == list(spec.features)
    origin = spec.feature_origin()
    for feature, label in labels.items():
        for lang in LANGUAGES:
            assert label.text(lang).strip(), f"{feature}: empty {lang} label"
            assert label.text(lang) != feature
        if origin[feature]["kind"] == "raw":
            assert label == column_label(feature)
        if origin[feature]["kind"] == "level":
            column = column_label(origin[feature]["column"])
            assert label.fr.startswith(column.fr + "\u00a0: ")
            assert label.en.startswith(column.en + ": ")


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("column", "value", "fr", "en"),
    [
        ("DAYS_BIRTH", -12460, "34 ans", "34 years"),
        ("DAYS_BIRTH", -365.25 * 1.5, "1 an", "1 year"),
        ("DAYS_EMPLOYED", 365243, "sans emploi", "not employed"),
        ("DAYS_EMPLOYED", -1200, "3,3 ans", "3.3 years"),
        ("DAYS_EMPLOYED", -100, "100 jours", "100 days"),
        ("DAYS_EMPLOYED", -5000, "14 ans", "14 years"),
        ("DAYS_REGISTRATION", -3648, "il y a 10 ans", "10 years ago"),
        ("DAYS_ID_PUBLISH", -730.5, "il y a 2,0 ans", "2.0 years ago"),
        ("DAYS_LAST_PHONE_CHANGE", -1, "il y a 1 jour", "1 day ago"),
        ("DAYS_LAST_PHONE_CHANGE", 0, "le jour de la demande", "on the day of application"),
        ("AMT_INCOME_TOTAL", 202500.0, f"202{NNBSP}500{NBSP}€", "€202,500"),
        ("AMT_CREDIT", 1293502.5, f"1{NNBSP}293{NNBSP}502{NBSP}€", "€1,293,502"),
        ("AMT_REQ_CREDIT_BUREAU_YEAR", 3.0, "3", "3"),
        ("CNT_CHILDREN", 2, "2", "2"),
        ("OWN_CAR_AGE", 7.0, "7 ans", "7 years"),
        ("EXT_SOURCE_2", 0.2629, "0,26", "0.26"),
        ("EXT_SOURCE_3", 0.0, "0,00", "0.00"),
        ("FLAG_EMAIL", 1, "oui", "yes"),
        ("FLAG_DOCUMENT_3", 0.0, "non", "no"),
        ("FLAG_OWN_CAR", "N", "non", "no"),
        ("CODE_GENDER", "F", "femme", "female"),
        ("WEEKDAY_APPR_PROCESS_START", "MONDAY", "lundi", "Monday"),
        ("NAME_CONTRACT_TYPE", "Revolving loans", "crédit renouvelable", "Revolving loans"),
        ("HOUR_APPR_PROCESS_START", 9, "9 h", "09:00"),
        ("REGION_RATING_CLIENT", 2, "2 sur 3", "2 of 3"),
        ("REGION_POPULATION_RELATIVE", 0.018801, "0,019", "0.019"),
        ("APARTMENTS_AVG", 0.0247, "0,025", "0.025"),
        ("EXT_SOURCE_1", None, "non renseigné", "not provided"),
        ("EXT_SOURCE_1", math.nan, "non renseigné", "not provided"),
        ("OCCUPATION_TYPE", "", "non renseigné", "not provided"),
    ],
)
def test_raw_values_in_readable_units(column: str, value: object, fr: str, en: str) -> None:
    assert format_value(column, value, "fr") == fr
    assert format_value(column, value, "en") == en


@pytest.mark.parametrize(
    ("feature", "value", "fr", "en"),
    [
        (
            "CREDIT_INCOME_RATIO",
            3.5,
            f"3,5{NBSP}fois le revenu annuel",
            f"3.5{NBSP}times the annual income",
        ),
        ("ANNUITY_INCOME_RATIO", 0.1523, f"15,2{NBSP}%", "15.2%"),
        (
            "CREDIT_GOODS_RATIO",
            1.0,
            f"1,0{NBSP}fois le prix du bien",
            f"1.0{NBSP}times the price of the goods",
        ),
        ("EMPLOYED_AGE_RATIO", 0.05, f"5,0{NBSP}%", "5.0%"),
        ("INCOME_PER_FAMILY_MEMBER", 67500.0, f"67{NNBSP}500", "67,500"),
        ("EXT_SOURCE_MEAN", 0.4567, "0,46", "0.46"),
        ("EXT_SOURCE_MISSING_COUNT", 2.0, "2", "2"),
        (EMPLOYMENT_ANOMALY_FEATURE, 1.0, "oui", "yes"),
        ("ANNUITY_CREDIT_RATIO", None, "non renseigné", "not provided"),
    ],
)
def test_derived_values_in_readable_units(feature: str, value: object, fr: str, en: str) -> None:
    assert format_derived_value(feature, value, "fr") == fr
    assert format_derived_value(feature, value, "en") == en


def test_number_helpers() -> None:
    assert format_number(-0.004, 2, "fr") == "0,00"  # never "-0,00"
    assert format_number(-1234.5, 1, "fr") == f"-1{NNBSP}234,5"
    assert format_percent(0.0, "en") == "0.0%"
    assert level_text("Cash loans", "fr") == "prêt personnel"
    assert level_text("Cash loans", "en") == "Cash loans"
    assert level_text("Business Entity Type 3", "fr") == "entreprise (type 3)"
    assert level_text("Government", "fr") == "administration publique"
    assert level_text("a level nobody knows", "fr") == "a level nobody knows"  # as given
    with pytest.raises(KeyError):
        format_derived_value("AMT_CREDIT", 1.0, "fr")


def test_every_level_advisors_read_most_has_a_french_word() -> None:
    from creditscore_common.reference_schema import load_schema

    schema = load_schema()
    for column in (
        "NAME_CONTRACT_TYPE",
        "NAME_INCOME_TYPE",
        "NAME_EDUCATION_TYPE",
        "NAME_FAMILY_STATUS",
        "NAME_HOUSING_TYPE",
        "NAME_TYPE_SUITE",
        "OCCUPATION_TYPE",
    ):
        for level in schema[column].levels:
            assert level_text(level, "fr") != level, (column, level)
            assert level_text(level, "en") == level


def test_every_category_level_of_the_reference_schema_has_a_french_label() -> None:
    """All 135 levels (not only those advisors read most): one file, both languages."""
    schema = load_schema()
    levels = [(c.name, level) for c in schema.columns if c.is_categorical for level in c.levels]
    assert len(levels) == 135
    words = level_labels()
    for column, level in levels:
        assert level in words.get(column, {}), f"{column}={level!r} has no label"
        fr = level_text(level, "fr", column)
        assert fr.strip() and fr != level, f"{column}={level!r} is not in French: {fr!r}"
        assert level_text(level, "en", column).strip()
    # one raw level reads the same in every column it appears in (a lookup without column)
    seen: dict[str, tuple[str, str]] = {}
    for column_words in words.values():
        for level, pair in column_words.items():
            assert seen.setdefault(level, pair) == pair, level


def test_a_french_word_finds_the_levels_it_names() -> None:
    assert levels_matching("salarié", SEARCH_FIELDS) == {"Working"}
    assert levels_matching("SALARIE", SEARCH_FIELDS) == {"Working"}  # case and accents
    assert levels_matching("working", SEARCH_FIELDS) == {"Working"}
    assert levels_matching("supérieur", SEARCH_FIELDS) == {"Higher education", "Incomplete higher"}
    assert levels_matching("zzz", SEARCH_FIELDS) == set()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("salarié", ["working"]),
        ("Salarie 1002", ["working 1002"]),
        ("retraité renouvelable", ["pensioner revolving"]),
        ("supérieur", ["higher"]),  # two levels, one piece that finds exactly them
        ("personnel", ["cash", "core", "medicine"]),  # no single piece: one query a level
        ("pensioner", ["pensioner"]),
        ("10001", ["10001"]),
        ("xyz", ["xyz"]),
        (None, [None]),
    ],
)
def test_search_words_become_the_stores_words(q: str | None, expected: list[str | None]) -> None:
    assert clients.search_queries(q) == expected


def test_every_search_piece_finds_exactly_the_levels_the_word_names() -> None:
    """Whatever French or English word of a level: the store finds exactly those levels."""
    universe = {level for f in SEARCH_FIELDS for level in level_labels()[f]}
    for field in SEARCH_FIELDS:
        for fr, en in level_labels()[field].values():
            for word in {*fr.split(), *en.split()}:
                if len(word) < clients.MIN_TRANSLATED_WORD:  # searched as typed
                    continue
                wanted = levels_matching(word, SEARCH_FIELDS)
                found = {
                    level
                    for level in universe
                    for query in clients.search_queries(word)
                    if matches_search(
                        1, {field: level for field in SEARCH_FIELDS}, search_terms(query)
                    )
                }
                assert wanted <= found, (word, wanted - found)


SALARIED = {"NAME_INCOME_TYPE": "Working", "NAME_CONTRACT_TYPE": "Cash loans", "DAYS_BIRTH": -12000}
PENSIONER = {
    "NAME_INCOME_TYPE": "Pensioner",
    "NAME_CONTRACT_TYPE": "Revolving loans",
    "OCCUPATION_TYPE": "Core staff",
}
MEDIC = {"NAME_INCOME_TYPE": "State servant", "OCCUPATION_TYPE": "Medicine staff"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("salarié", [100001, 100003]),
        ("Working", [100001, 100003]),
        ("retraité", [100002]),
        ("salarié 10000", [100001, 100003]),
        ("personnel", [100001, 100002, 100003, 100004]),  # cash loan, core and medicine staff
        ("informatique", []),
    ],
)
def test_the_client_list_is_searched_in_french(
    tmp_path: object, q: str, expected: list[int]
) -> None:
    from pathlib import Path

    store = LocalStore(Path(str(tmp_path)) / "store", create=True)
    store.put_clients(
        [(100001, SALARIED), (100002, PENSIONER), (100003, SALARIED), (100004, MEDIC)]
    )
    page = clients.client_page(store, clients.ClientListQuery(q=q))
    assert [row.client_id for row in page.clients] == expected
    assert page.q == q
    if expected:
        assert page.next_cursor is None


def test_a_search_expanded_into_several_queries_pages_by_id(tmp_path: object) -> None:
    from pathlib import Path

    store = LocalStore(Path(str(tmp_path)) / "store", create=True)
    store.put_clients([(100000 + i, SALARIED if i % 2 else MEDIC) for i in range(1, 8)])
    first = clients.client_page(store, clients.ClientListQuery(q="personnel", limit=3))
    assert [row.client_id for row in first.clients] == [100001, 100002, 100003]
    assert first.next_cursor == 100003
    second = clients.client_page(
        store, clients.ClientListQuery(q="personnel", limit=3, cursor=first.next_cursor)
    )
    assert [row.client_id for row in second.clients] == [100004, 100005, 100006]
    third = clients.client_page(
        store, clients.ClientListQuery(q="personnel", limit=3, cursor=second.next_cursor)
    )
    assert [row.client_id for row in third.clients] == [100007]
    assert third.next_cursor is None
