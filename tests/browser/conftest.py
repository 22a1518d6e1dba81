"""JupyterLab from the project's venv, serving a throw-away copy of notebooks/, driven by Playwright in Debian's
Chromium: one server per test session, one browser per module."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from lab_driver import CHROMIUM, NOTEBOOKS, launch_chromium, start_lab, stop_lab

from tradai_nb.sandbox import server as sandbox
from tradai_nb.settings import load_settings


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.ipynb"))}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: `make test` installs Debian's package; "
                    "or set TRADAI_CHROMIUM to another build")
    committed = _digests(NOTEBOOKS)
    # The session's isolated TRADAI_HOME, params and audit folder (root conftest.py) reach the kernels through the
    # server's environment; the runbooks meet the session's sandbox.
    sandbox.ensure_running(load_settings("local"))
    lab, server = start_lab(tmp_path_factory.mktemp("lab"), NOTEBOOKS)
    yield lab
    stop_lab(server)
    assert _digests(NOTEBOOKS) == committed, "the committed notebooks changed during the browser tests"


# Per module: Playwright's sync API keeps an event loop running in this thread while it is open.
@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    yield page
    context.close()
    for session in lab.api("sessions"):
        lab.api(f"sessions/{session['id']}", method="DELETE")
