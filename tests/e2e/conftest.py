"""Fixtures of the end-to-end browser tests: the local API, the dashboard, headless Chromium.

Everything runs on 127.0.0.1, on free ports, as subprocesses in their own process groups that
are always stopped at teardown; every wait is bounded. Chromium and its driver are Debian's
(``make browser`` installs them): Selenium is given the driver's path, so Selenium Manager
never runs and nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    CHROMEDRIVER,
    CHROMIUM,
    DASHBOARD_APP,
    HOST,
    PAGE_LOAD_TIMEOUT,
    REPO,
    VENV_BIN,
    Api,
    Server,
    clean_env,
    free_port,
    http_get,
    save_artifact,
    start_server,
)

log = logging.getLogger(__name__)


@pytest.fixture(scope="session", autouse=True)
def _browser_and_dashboard_present() -> None:
    """Fail at once, before any server starts, when the browser or the dashboard is missing.

    Not a skip: the test set-up (``make test`` depends on ``make browser``) installs them.
    """
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} missing: run `make browser` (as root or with sudo) to "
            "install Debian's chromium and chromium-driver",
            pytrace=False,
        )
    if not DASHBOARD_APP.is_file():
        pytest.fail(f"the dashboard's entry file {DASHBOARD_APP} does not exist", pytrace=False)


@pytest.fixture(scope="module")
def api(
    request: pytest.FixtureRequest,
    publish_local: Callable[[Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    """``creditscore serve`` on a freshly published small store, with a random token."""
    failures_before = request.session.testsfailed
    folder = tmp_path_factory.mktemp("e2e-api")
    store = publish_local(folder / "store")
    token = secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [
        str(VENV_BIN / "creditscore"),
        "serve",
        "--store",
        f"local:{store}",
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    # Run from the temporary folder: the server reads a .env in its working directory.
    server = start_server(
        "API", url, command, clean_env(API_TOKEN=token), folder, folder / "api.log"
    )
    try:
        server.wait_ready(lambda: http_get(f"{url}/health")[0] == 200)
        yield Api(url, token, server)
    finally:
        server.stop()
        if request.session.testsfailed > failures_before:
            path = save_artifact("failure-api.log", server.output(tail=200_000))
            log.warning("failure artifact: %s", path)


@pytest.fixture
def start_dashboard(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str, str], Server]]:
    """``start_dashboard(api_url, token)``: the Streamlit dashboard, stopped at teardown."""
    started: list[Server] = []

    def start(api_url: str, token: str) -> Server:
        port = free_port()
        url = f"http://{HOST}:{port}"
        command = [
            str(VENV_BIN / "python"),
            "-m",
            "streamlit",
            "run",
            str(DASHBOARD_APP),
            "--server.headless",
            "true",
            "--server.address",
            HOST,
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--global.developmentMode",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        env = clean_env(API_URL=api_url, API_TOKEN=token)
        log_path = tmp_path / f"dashboard-{len(started)}.log"
        server = start_server("dashboard", url, command, env, REPO, log_path)
        started.append(server)
        server.wait_ready(lambda: http_get(f"{url}/_stcore/health") == (200, b"ok"))
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            for server in started:
                path = save_artifact(
                    f"failure-{request.node.name}-{server.log_path.name}",
                    server.output(tail=200_000),
                )
                log.warning("failure artifact: %s", path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item: fixtures look at it to save failure artifacts."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver; on failure the page is saved."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,2000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        driver.set_script_timeout(10)
        yield driver
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            stem = f"failure-{request.node.name}"
            paths = [
                save_artifact(f"{stem}.html", driver.page_source),
                save_artifact(f"{stem}.png", driver.get_screenshot_as_png()),
            ]
            for path in paths:
                request.node.user_properties.append(("artifact", str(path)))
                log.warning("failure artifact: %s", path)
    finally:
        driver.quit()
