"""The advisors' dashboard in a real browser, against the real local API.

The local API serves a store published from the shared trained model and the small data set;
the Streamlit dashboard talks to it with a random token; headless Chromium opens a client's
file from its link (``/?client=<id>``). Checked: the probability of default, the decision (or
"to review" for a file in the model's uncertainty zone) and the explanation are shown, and
agree with the API's own answer; at 1366 x 900 the decision banner starts above the fold; no
error or traceback is on the page. With the API out of reach, the page says so in words,
without a traceback. Screenshots (and, on failure, the page source and the servers' output) go
to build/test-artifacts/.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    AXE_VERSION,
    HOST,
    START_TIMEOUT,
    Api,
    Server,
    axe_source,
    free_port,
    http_get,
    save_artifact,
)
from selenium.webdriver.common.keys import Keys

from training.data import NEW_CLIENTS_FILE, load_applications

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("trained_model")]

log = logging.getLogger(__name__)

#: The dashboard's words (French, its default language) for the API's decisions, and for a
#: file whose band is "borderline" (shown instead of either decision).
DECISION_WORDS = {"accept": "Accord", "refuse": "Refus"}
BORDERLINE_WORDS = "À examiner"
#: A laptop screen (CSS pixels): the decision must start on the first screen.
SCREEN = (1366, 900)
#: The decision banner (a Streamlit container keyed "decision-banner"): its box on the page,
#: and the top of the summary card's heading (arguments[0]: "Client <id>").
BANNER_BOX_JS = """
const banner = document.querySelector('.st-key-decision-banner');
if (!banner) return null;
const box = banner.getBoundingClientRect();
const card = [...document.querySelectorAll('h1, h2, h3')]
    .find(h => h.innerText.trim() === arguments[0]);
return {top: box.top, bottom: box.bottom, viewport: window.innerHeight, text: banner.innerText,
        card: card ? card.getBoundingClientRect().top : null};
"""
PROBABILITY_LABEL = "Probabilité de défaut"
WHY_TITLE = "Pourquoi ce score ?"
ERROR_SELECTORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHART_SELECTORS = '[data-testid="stPlotlyChart"], .js-plotly-plot'
#: Seconds the page may take to show a client once loaded, and to finish running.
PAGE_TIMEOUT = START_TIMEOUT

# A plotly chart placed after the "Pourquoi ce score ?" heading, in document order.
CHART_AFTER_HEADING_JS = """
const title = arguments[0];
const heading = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
    .find(h => h.innerText.replace(/\\s+/g, ' ').includes(title));
if (!heading) return false;
return [...document.querySelectorAll(arguments[1])].some(
    chart => heading.compareDocumentPosition(chart) & Node.DOCUMENT_POSITION_FOLLOWING);
"""


def page_text(driver: Any) -> str:
    """The page's visible text, every kind of space (French uses no-break ones) as a space."""
    text = str(driver.execute_script("return document.body ? document.body.innerText : ''"))
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def running(driver: Any) -> bool:
    """True while Streamlit shows its "running" status widget (the script is still running)."""
    return bool(driver.find_elements("css selector", '[data-testid="stStatusWidget"]'))


def wait_for(driver: Any, ready: Callable[[str], bool], what: str) -> str:
    """Poll until ``ready(page_text)`` then until the script stops; the final page text."""
    deadline = time.monotonic() + PAGE_TIMEOUT
    text = ""
    while time.monotonic() < deadline:
        text = page_text(driver)
        if ready(text):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"{what} not shown after {PAGE_TIMEOUT:.0f} s; the page says:\n{text[:3000]}")
    idle_polls = 0  # idle twice in a row: the status widget shows up a moment after a rerun
    while idle_polls < 2 and time.monotonic() < deadline:
        idle_polls = 0 if running(driver) else idle_polls + 1
        time.sleep(0.5)
    if idle_polls < 2:
        pytest.fail(f"the dashboard was still running after {PAGE_TIMEOUT:.0f} s")
    return page_text(driver)


def shows(words: str) -> Callable[[str], bool]:
    """A ``ready`` for :func:`wait_for`: the page's text has ``words``."""
    return lambda text: words in text


def word_in(word: str, text: str) -> bool:
    """``word`` as a whole word (case-sensitive: "Refus", not "refusé" or "zone de refus")."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def french_percent(share: float) -> str:
    """0.0194 -> '1,9 %' (one decimal, decimal comma, a space before the sign)."""
    return f"{100 * share:.1f}".replace(".", ",") + " %"


def keep_screenshot(driver: Any, name: str, record_property: Callable[[str, object], None]) -> Path:
    path = save_artifact(name, driver.get_screenshot_as_png())
    record_property("screenshot", str(path))
    log.info("screenshot: %s", path)
    return path


def error_elements(driver: Any) -> list[str]:
    return [
        f"{element.get_attribute('data-testid')}: {element.text[:500]}"
        for element in driver.find_elements("css selector", ERROR_SELECTORS)
    ]


@pytest.fixture(scope="module")
def client_id(small_data_dir: Path) -> int:
    """The first new client of the small store."""
    return int(load_applications(small_data_dir / NEW_CLIENTS_FILE, with_target=False).ids[0])


def test_a_client_file_shows_score_decision_and_explanation(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    client_id: int,
    record_property: Callable[[str, object], None],
) -> None:
    status, body = http_get(f"{api.url}/clients/{client_id}/score", api.token)
    assert status == 200, f"the API's score for client {client_id}: {status} {body!r}"
    score = json.loads(body)
    borderline = score["band"] == "borderline"
    expected_word = BORDERLINE_WORDS if borderline else DECISION_WORDS[score["decision"]]
    expected_percent = french_percent(score["probability"])
    dashboard = start_dashboard(api.url, api.token)

    browser.set_window_size(*SCREEN)
    browser.get(f"{dashboard.url}/?client={client_id}")

    def ready(text: str) -> bool:
        return (
            PROBABILITY_LABEL in text
            and WHY_TITLE in text
            and any(word_in(w, text) for w in (*DECISION_WORDS.values(), BORDERLINE_WORDS))
            and bool(browser.execute_script(CHART_AFTER_HEADING_JS, WHY_TITLE, CHART_SELECTORS))
        )

    text = wait_for(browser, ready, f"client {client_id}'s score, decision and explanation")
    browser.execute_script("window.scrollTo(0, 0)")
    keep_screenshot(browser, f"dashboard-client-{client_id}.png", record_property)

    assert not error_elements(browser), f"errors on the page: {error_elements(browser)}"
    assert "Traceback" not in text
    assert word_in(expected_word, text), (
        f"the API's decision is {score['decision']!r} ({score['band']}), the page does not "
        f"say {expected_word!r}"
    )
    shown = [w for w in (*DECISION_WORDS.values(), BORDERLINE_WORDS) if word_in(w, text)]
    other_words = [w for w in shown if w != expected_word]
    assert not other_words, f"the API says {expected_word!r}, the page also shows {other_words}"
    assert expected_percent in text, (
        f"the API's probability {score['probability']:.4f} is not shown as {expected_percent!r}"
    )
    # Decision first: at 1366 x 900 the banner (decision, reasons, what would change a
    # refusal) starts on the first screen, above the summary card.
    banner = browser.execute_script(BANNER_BOX_JS, f"Client {client_id}")
    assert banner is not None, "no decision banner (.st-key-decision-banner) on the page"
    record_property(
        "decision_banner_box", {k: banner[k] for k in ("top", "bottom", "viewport", "card")}
    )
    log.info("decision banner at %s", banner)
    fold = min(SCREEN[1], banner["viewport"])  # a window of 900 px shows a little less
    assert banner["top"] < fold, (
        f"the decision starts {banner['top']:.0f} px down the page (fold at {fold} px)"
    )
    assert word_in(expected_word, re.sub(r"[\s\u00a0\u202f]+", " ", banner["text"]))
    assert banner["card"] is not None and banner["card"] > banner["bottom"], (
        "the summary card is not after the decision"
    )

    # WCAG 1.4.4: at 200 % zoom the file still reads in one or two columns: no horizontal
    # scrolling, the sidebar folded away, the decision in words (see zoom()).
    zoom(browser, 2.0)
    browser.get(f"{dashboard.url}/?client={client_id}")
    wait_for(browser, ready, f"client {client_id}'s file at 200 % zoom")
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    sidebar = browser.execute_script(
        "const s = document.querySelector('[data-testid=\"stSidebar\"]');"
        "return s ? s.getAttribute('aria-expanded') : null;"
    )
    keep_screenshot(browser, f"dashboard-client-{client_id}-zoom200.png", record_property)
    assert overflow is not None and overflow <= 1, f"{overflow} px of horizontal scrolling"
    assert sidebar in (None, "false"), "the sidebar covers the file at 200 % zoom"
    assert word_in(expected_word, page_text(browser))


# ----------------------------------------------------------------------------- accessibility

#: How 200 % (and 400 %) zoom is emulated. Zooming a 1366 x 900 window to 200 % lays the page
#: out in a viewport of 683 x 450 CSS pixels, two device pixels each: the CSS width is what
#: makes a layout reflow (media queries, flex wrapping), so that is what is emulated, through
#: Chrome DevTools' Emulation.setDeviceMetricsOverride. Only raising deviceScaleFactor on the
#: 1366-pixel window would sharpen the pixels without any reflow; `body.style.zoom` is not
#: seen by media queries.
LAPTOP = (1366, 900)


def zoom(driver: Any, factor: float) -> None:
    """Emulate the browser's zoom ``factor`` on a 1366 x 900 laptop screen."""
    width, height = (round(side / factor) for side in LAPTOP)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": factor, "mobile": False},
    )


#: Headings of the main area in document order (the sidebar's has its own landmark).
HEADINGS_JS = """
return [...document.querySelectorAll('[data-testid="stMain"] h1, [data-testid="stMain"] h2,'
    + '[data-testid="stMain"] h3, [data-testid="stMain"] h4, [data-testid="stMain"] h5,'
    + '[data-testid="stMain"] h6')]
    .filter(h => h.innerText.trim())
    .map(h => [Number(h.tagName[1]), h.innerText.trim().slice(0, 60)]);
"""
#: The summary card's sections at the current width: how many share the first row, and any
#: text whose box is wider than its section (a clipped label).
CARD_LAYOUT_JS = """
const card = document.querySelector('.st-key-summary-card');
if (!card) return null;
const columns = [...card.querySelectorAll('[data-testid="stColumn"]')];
const tops = columns.map(c => Math.round(c.getBoundingClientRect().top));
const clipped = [...card.querySelectorAll('p, li, strong')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 ||
                 e.getBoundingClientRect().right > card.getBoundingClientRect().right + 1)
    .map(e => e.innerText.slice(0, 60));
return {columns: columns.length, first_row: tops.filter(t => t === tops[0]).length, clipped};
"""
#: Texts of a plotly chart (annotations, ticks) that stick out of the chart's own box.
CHART_CLIPPED_JS = """
const out = [];
for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const box = chart.getBoundingClientRect();
    if (!box.width) continue;
    for (const text of chart.querySelectorAll('.annotation-text, .xtick text, .ytick text,'
                                              + ' .angular text, g.tick text')) {
        const r = text.getBoundingClientRect();
        if (!r.width) continue;
        if (r.left < box.left - 1 || r.right > box.right + 1)
            out.push(text.textContent.slice(0, 60));
    }
}
return out;
"""
AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
    .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
        targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
    .catch(e => done({error: String(e)}));
"""
#: Pages of the dashboard, as an advisor reaches them: (name, query string, ready words).
PAGES = (
    ("client", "?client={client_id}", ("Probabilité de défaut", "Pourquoi ce score")),
    ("new", "?view=new", ("Nouveau demandeur", "Calculer le score")),
    ("model", "?view=model", ("Le modèle de scoring", "Fiche du modèle")),
)


def run_axe(driver: Any, source: str) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    driver.set_script_timeout(60)
    driver.execute_script(source)
    found = driver.execute_async_script(AXE_RUN_JS)
    if isinstance(found, dict):
        pytest.fail(f"axe-core failed: {found}")
    return list(found)


def heading_skips(levels: list[list[Any]]) -> list[str]:
    """Headings that skip a level (an h3 right after an h1), or a first heading not h1."""
    skips = []
    previous = 0
    for level, text in levels:
        if level > previous + 1:
            skips.append(f"h{level} {text!r} after h{previous}")
        previous = level
    return skips


def test_every_page_passes_axe_headings_and_200_percent_zoom(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    client_id: int,
    record_property: Callable[[str, object], None],
) -> None:
    """axe-core: 0 serious or critical violations a page; headings in order; at 200 % the card
    reflows to one or two columns and no label is clipped; at 400 % the explanation's labels
    stay inside the chart."""
    source = axe_source()
    dashboard = start_dashboard(api.url, api.token)
    browser.set_window_size(*LAPTOP)
    results: dict[str, dict[str, Any]] = {}
    for name, query, words in PAGES:
        browser.get(f"{dashboard.url}/{query.format(client_id=client_id)}")

        def shown(text: str, expected: tuple[str, ...] = words) -> bool:
            return all(word in text for word in expected)

        wait_for(browser, shown, f"the {name} page")
        time.sleep(1.0)  # charts finish drawing after the script stops
        violations = run_axe(browser, source)
        by_impact: dict[str, int] = {}
        for violation in violations:
            by_impact[str(violation["impact"])] = by_impact.get(str(violation["impact"]), 0) + 1
        levels = browser.execute_script(HEADINGS_JS)
        results[name] = {"by_impact": by_impact, "violations": violations, "headings": levels}
        log.info("axe-core %s on %s: %s", AXE_VERSION, name, by_impact)
    save_artifact("axe-results.json", json.dumps(results, indent=1, ensure_ascii=False))
    record_property("axe_by_page", {name: r["by_impact"] for name, r in results.items()})
    for name, result in results.items():
        grave = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not grave, f"axe-core on the {name} page: {grave}"
        assert result["headings"] and result["headings"][0][0] == 1, result["headings"]
        assert not heading_skips(result["headings"]), f"{name}: {heading_skips(result['headings'])}"

    zoom(browser, 2.0)
    browser.get(f"{dashboard.url}/?client={client_id}")
    wait_for(browser, lambda text: all(x in text for x in PAGES[0][2]), "the file at 200 %")
    time.sleep(1.0)
    keep_screenshot(browser, "dashboard-zoom200-card.png", record_property)
    card = browser.execute_script(CARD_LAYOUT_JS)
    record_property("card_at_200", card)
    assert card is not None and card["columns"] >= 4, card
    assert 1 <= card["first_row"] <= 2, f"the card keeps {card['first_row']} columns at 200 %"
    assert not card["clipped"], f"clipped in the card at 200 %: {card['clipped']}"
    clipped = browser.execute_script(CHART_CLIPPED_JS)
    assert not clipped, f"chart texts cut at 200 %: {clipped}"

    zoom(browser, 4.0)
    browser.get(f"{dashboard.url}/?client={client_id}")
    wait_for(browser, lambda text: all(x in text for x in PAGES[0][2]), "the file at 400 %")
    time.sleep(1.0)
    keep_screenshot(browser, "dashboard-zoom400.png", record_property)
    clipped = browser.execute_script(CHART_CLIPPED_JS)
    assert not clipped, f"chart texts cut at 400 %: {clipped}"


#: Widget texts (labels, shown choices, buttons) of the main area and the sidebar.
WIDGET_TEXT_JS = r"""
const picks = [...document.querySelectorAll(
    '[data-testid="stWidgetLabel"], [data-baseweb="select"], [data-testid="stRadio"] label,'
    + ' button, [data-testid="stTab"], input[type="text"], textarea, summary')];
return picks.map(e => (e.value !== undefined && e.tagName === 'INPUT' ? e.value :
                      e.placeholder && !e.innerText ? e.placeholder : e.innerText) || '')
    .map(t => t.replace(/\s+/g, ' ').trim()).filter(t => t);
"""


def test_the_english_switch_leaves_no_french_in_widgets(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    client_id: int,
    record_property: Callable[[str, object], None],
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "frontend"))
    from creditscore_common.labels import level_labels
    from dashboard import i18n

    french_only = {
        i18n.t(key, "fr") for key in i18n.text_keys() if i18n.t(key, "fr") != i18n.t(key, "en")
    } | {
        fr
        for column in level_labels().values()
        for fr, en in column.values()
        if fr.lower() != en.lower()
    }
    dashboard = start_dashboard(api.url, api.token)
    browser.set_window_size(*LAPTOP)
    browser.get(f"{dashboard.url}/?client={client_id}")
    wait_for(browser, lambda text: "Pourquoi ce score" in text, "the client file in French")
    english = browser.find_element(
        "xpath", "//*[@data-testid='stSidebar']//label[.//p[normalize-space()='English']]"
    )
    english.click()
    text = wait_for(browser, lambda text: "Why this score" in text, "the file in English")
    keep_screenshot(browser, "dashboard-english.png", record_property)
    widgets = list(browser.execute_script(WIDGET_TEXT_JS))
    # The finder and the other tabs load only when opened: open each, and read its widgets.
    browser.find_element("css selector", f".st-key-finder-{client_id} summary").click()
    wait_for(browser, lambda text: "Clients to work through" in text, "the finder in English")
    widgets += browser.execute_script(WIDGET_TEXT_JS)
    for tab_title, shown in (
        ("Compare", i18n.t("compare_features", "en")),
        ("What if", i18n.t("whatif_run", "en")),
        ("Advisor", i18n.t("decide_submit", "en")),
    ):
        tab = browser.find_element(
            "xpath", f"//*[@data-testid='stTab'][contains(normalize-space(), '{tab_title}')]"
        )
        tab.click()
        wait_for(browser, shows(shown), f"the {tab_title!r} tab")
        widgets += browser.execute_script(WIDGET_TEXT_JS)
    # the language switch names itself in both languages on purpose
    normalised = [re.sub(r"[\s\u00a0\u202f]+", " ", w) for w in widgets if w != "Langue · Language"]
    french_words = {re.sub(r"[\s\u00a0\u202f]+", " ", w) for w in french_only if len(w) > 3}
    left = sorted({w for w in normalised for f in french_words if f == w or f in w.split(" · ")})
    assert widgets, "no widget found"
    assert not left, f"French left in widgets after the English switch: {left}"
    assert "Tous" not in normalised and "marié(e)" not in " ".join(normalised)
    assert "Français" in text  # the language switch itself names each language in its own


#: The worklist's rows: each client's number (from its "Ouvrir" button's key) and line.
WORKLIST_ROWS_JS = """
return [...document.querySelectorAll('[class*="st-key-wl-open-"]')].map(cell => {
  const key = [...cell.classList].find(c => c.startsWith('st-key-wl-open-'));
  const row = cell.closest('[data-testid="stHorizontalBlock"]');
  return {id: key.slice('st-key-wl-open-'.length), text: row ? row.innerText : ''};
});
"""
#: The decision banner of client arguments[0] (its verdict box is keyed "...-client-<id>").
BANNER_OF_JS = """
const suffix = '-client-' + arguments[0];
const box = [...document.querySelectorAll('.st-key-decision-banner [class*="st-key-verdict-"]')]
    .find(e => [...e.classList].some(c => c.startsWith('st-key-verdict-') && c.endsWith(suffix)));
return box ? box.innerText : null;
"""


def test_the_worklist_lists_new_clients_and_opens_a_file_in_place(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    record_property: Callable[[str, object], None],
) -> None:
    """The landing page lists clients to decide with their score; "Ouvrir" opens one in place."""
    status, body = http_get(f"{api.url}/clients?with_score=true&pending=true&limit=20", api.token)
    assert status == 200, f"the API's worklist: {status} {body!r}"
    expected = [int(row["client_id"]) for row in json.loads(body)["clients"]]
    assert expected, "the API lists no client to decide"
    dashboard = start_dashboard(api.url, api.token)
    browser.set_window_size(*SCREEN)
    browser.get(dashboard.url)
    wait_for(
        browser,
        lambda text: "Clients à traiter" in text and bool(browser.execute_script(WORKLIST_ROWS_JS)),
        "the worklist",
    )
    rows = browser.execute_script(WORKLIST_ROWS_JS)
    keep_screenshot(browser, "dashboard-worklist.png", record_property)
    assert [int(row["id"]) for row in rows] == expected, "the page's rows are not the API's"
    for row in rows:  # each line: what the client declared and what the score says
        line = re.sub(r"[\s\u00a0\u202f]+", " ", row["text"])
        assert "revenu" in line and "€" in line, f"row of client {row['id']}: {line!r}"
        assert any(words in line for words in ("Accord", "Refus", "À examiner", "Pas de score")), (
            f"row of client {row['id']} does not say what its score says: {line!r}"
        )
    assert not error_elements(browser), f"errors on the page: {error_elements(browser)}"

    chosen = int(rows[-1]["id"])
    browser.execute_script("window.stillTheSamePage = true")  # gone if the page reloads
    browser.find_element("css selector", f".st-key-wl-open-{chosen} button").click()
    text = wait_for(
        browser,
        lambda text: (
            f"Client {chosen}" in text
            and PROBABILITY_LABEL in str(browser.execute_script(BANNER_OF_JS, str(chosen)) or "")
        ),
        f"client {chosen}'s file opened from the worklist",
    )
    keep_screenshot(browser, f"dashboard-worklist-opened-{chosen}.png", record_property)
    assert browser.execute_script("return window.stillTheSamePage === true"), "the page reloaded"
    assert f"client={chosen}" in browser.current_url  # the link follows the file
    assert not error_elements(browser), f"errors on the page: {error_elements(browser)}"
    assert "Traceback" not in text


def test_an_unreachable_api_is_explained_without_a_traceback(
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    record_property: Callable[[str, object], None],
) -> None:
    closed_port = free_port()  # nothing listens there: connections are refused at once
    dashboard = start_dashboard(f"http://{HOST}:{closed_port}", "a-token-for-no-api")

    browser.get(f"{dashboard.url}/?client=100001")

    def ready(text: str) -> bool:
        return bool(browser.find_elements("css selector", '[data-testid="stAlert"]'))

    text = wait_for(browser, ready, "a message about the unreachable API")
    keep_screenshot(browser, "dashboard-api-unreachable.png", record_property)

    alerts = [e.text for e in browser.find_elements("css selector", '[data-testid="stAlert"]')]
    assert any("ne répond pas" in alert for alert in alerts), f"messages shown: {alerts}"
    assert not browser.find_elements("css selector", '[data-testid="stException"]')
    assert "Traceback" not in text


# ----------------------------------------------------------------------------- decisions


def dashboard_i18n() -> Any:
    """The dashboard's words (frontend/ is not a package of the project: put on the path)."""
    import sys

    frontend = str(Path(__file__).resolve().parents[2] / "frontend")
    if frontend not in sys.path:
        sys.path.insert(0, frontend)
    from dashboard import i18n

    return i18n


def _decisions(api: Api, client_id: int) -> list[dict[str, Any]]:
    status, body = http_get(f"{api.url}/clients/{client_id}/decisions", api.token)
    assert status == 200, f"GET decisions of {client_id}: {status} {body!r}"
    records: list[dict[str, Any]] = json.loads(body)["decisions"]
    return records


def _pending_accepted(api: Api, how_many: int) -> list[int]:
    """Clients the model clearly accepts and no advisor decided yet (no override needed)."""
    status, body = http_get(
        f"{api.url}/clients?with_score=true&pending=true&verdict=accept&limit=50", api.token
    )
    assert status == 200, f"the API's worklist: {status} {body!r}"
    ids = [int(row["client_id"]) for row in json.loads(body)["clients"]]
    assert len(ids) >= how_many, f"only {len(ids)} clients to accept"
    return ids[:how_many]


def _open_decision_tab(browser: Any, url: str, client_id: int, comment: str) -> Any:
    """Open the client's file, its decision tab, and type ``comment``; the comment field."""
    i18n = dashboard_i18n()
    browser.set_window_size(*SCREEN)
    browser.get(f"{url}/?client={client_id}")
    wait_for(browser, shows(WHY_TITLE), f"client {client_id}'s file")
    title = i18n.t("decide_title", "fr")
    browser.find_element(
        "xpath", f"//*[@data-testid='stTab'][contains(normalize-space(), \"{title}\")]"
    ).click()
    wait_for(browser, shows(i18n.t("decide_submit", "fr")), "the decision tab")
    field = browser.find_element("css selector", f".st-key-decide-comment-{client_id} textarea")
    field.send_keys(comment)
    return field


def _submit_button(browser: Any) -> Any:
    i18n = dashboard_i18n()
    label = i18n.t("decide_submit", "fr")
    return browser.find_element("xpath", f'//button[.//p[normalize-space()="{label}"]]')


def test_a_double_click_on_record_writes_one_decision(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    record_property: Callable[[str, object], None],
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    (client_id,) = _pending_accepted(api, 1)
    assert _decisions(api, client_id) == []
    dashboard = start_dashboard(api.url, api.token)
    _open_decision_tab(browser, dashboard.url, client_id, "Pièces vérifiées")
    ActionChains(browser).double_click(_submit_button(browser)).perform()
    wait_for(browser, shows("Décision enregistrée le"), "the decision recorded")
    time.sleep(2)  # a second write, if the double click made one, lands by then
    keep_screenshot(browser, "dashboard-decision-recorded.png", record_property)
    records = _decisions(api, client_id)
    assert len(records) == 1, f"{len(records)} records for one double click: {records}"
    assert records[0]["decision"] == "accept" and records[0]["comment"] == "Pièces vérifiées"
    assert records[0]["idempotency_key"], "the dashboard sends an Idempotency-Key"
    assert not error_elements(browser), f"errors on the page: {error_elements(browser)}"


def test_a_decision_the_api_cannot_take_says_not_recorded_and_keeps_the_comment(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    record_property: Callable[[str, object], None],
) -> None:
    from benchmarks.dashboard import LatencyProxy

    (client_id,) = _pending_accepted(api, 1)
    proxy = LatencyProxy(api.url, 0.0)  # the dashboard's only way to the API
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    serving = True
    try:
        dashboard = start_dashboard(proxy.url, api.token)
        comment = "Justificatifs de revenus reçus le 12"
        _open_decision_tab(browser, dashboard.url, client_id, comment)
        proxy.shutdown()  # the API goes away while the advisor is about to record
        proxy.server_close()
        serving = False
        _submit_button(browser).click()
        text = wait_for(browser, shows("non enregistrée"), "the failure said in words")
        keep_screenshot(browser, "dashboard-decision-not-recorded.png", record_property)
        field = browser.find_element(  # drawn again by the rerun
            "css selector", f".st-key-decide-comment-{client_id} textarea"
        )
        assert field.get_attribute("value") == comment, "the typed comment was lost"
        assert PROBABILITY_LABEL in text, "the rest of the file is no longer shown"
        assert "Traceback" not in text
    finally:
        if serving:
            proxy.shutdown()
            proxy.server_close()
    assert _decisions(api, client_id) == [], "nothing was recorded"


def test_a_decision_recorded_after_the_english_switch_is_the_one_shown(
    api: Api,
    start_dashboard: Callable[[str, str], Server],
    browser: Any,
    record_property: Callable[[str, object], None],
) -> None:
    """The advisor stays on the decision tab across the switch; what it shows is recorded."""
    i18n = dashboard_i18n()
    (client_id,) = _pending_accepted(api, 1)
    dashboard = start_dashboard(api.url, api.token)
    field = _open_decision_tab(browser, dashboard.url, client_id, "Dossier complet")
    field.send_keys(Keys.TAB)  # the typed comment reaches Streamlit before the switch
    browser.find_element(
        "xpath", "//*[@data-testid='stSidebar']//label[.//p[normalize-space()='English']]"
    ).click()
    label = i18n.t("decide_submit", "en")
    wait_for(browser, shows(label), "the decision tab, still open, in English")
    checked = browser.execute_script(
        f"return [...document.querySelectorAll('.st-key-decide-choice-{client_id}-en input')]"
        ".filter(i => i.checked).map(i => i.closest('label').innerText.trim())"
    )
    assert checked and "Accept" in checked[0], f"the radio shows {checked} in English"
    browser.find_element("xpath", f'//button[.//p[normalize-space()="{label}"]]').click()
    wait_for(browser, shows("Decision recorded on"), "the decision recorded from English")
    keep_screenshot(browser, "dashboard-decision-english.png", record_property)
    (record,) = _decisions(api, client_id)
    assert record["decision"] == "accept" and record["comment"] == "Dossier complet"
