"""Driving JupyterLab in the browser: start a server on a copy of the notebooks, open a notebook, edit its parameters cell, Run All with a bound, read what
every code cell shows, and keep evidence of a failure."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tradai_nb.engine.automation import find_pulumi_cli
from tradai_nb.errors import PulumiCliMissingError
from tradai_nb.records.audit import audit_root
from tradai_nb.sandbox import server as sandbox
from tradai_nb.settings import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"
ARTEFACTS = PROJECT_ROOT / "test-artefacts" / "browser"
# Found by glob, so a new notebook is covered.
ALL_NOTEBOOKS = sorted(p.relative_to(NOTEBOOKS.parent).as_posix() for p in NOTEBOOKS.glob("*/*.ipynb"))
STACK_NOTEBOOKS = [n for n in ALL_NOTEBOOKS if n.startswith("notebooks/stacks/")]
OTHER_NOTEBOOKS = [n for n in ALL_NOTEBOOKS if n not in STACK_NOTEBOOKS]
CHROMIUM = os.environ.get("TRADAI_CHROMIUM", "/usr/bin/chromium")
# As root on a closed network: no sandbox, and no background connections that the network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 90
# Every cell in the DOM (JupyterLab 4 otherwise renders only the cells in view), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}
OPEN_TIMEOUT_MS = 90_000
RUN_TIMEOUT_S = 240
# A short message, not a traceback wall: at most this many lines, and no frames.
MESSAGE_LINES = 6
STDERR = "application/vnd.jupyter.stderr"
CELLS_SCRIPT = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell')].map(cell => ({
    prompt: (cell.querySelector('.jp-InputPrompt') || {}).innerText || '',
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.dataset.mimeType || '', text: o.innerText})),
    tables: cell.querySelectorAll('.jp-OutputArea-output table').length,
    images: cell.querySelectorAll('.jp-OutputArea-output img').length,
}))"""


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its URL, token, the folder it serves, and the audit folder its kernels record into."""

    url: str
    token: str
    root: Path
    audit_dir: Path

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None


def start_lab(base: Path, notebooks: Path) -> tuple[Lab, subprocess.Popen]:
    """JupyterLab from this venv on a free loopback port with a random token, serving a copy of `notebooks` made
    under `base` (JupyterLab autosaves into the files it has open), its settings and state in `base` too."""
    root = base / "root"
    shutil.copytree(notebooks, root / "notebooks")
    settings_dir = base / "settings"
    for name, values in LAB_SETTINGS.items():
        target = settings_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    empty_aws = base / "aws-config"
    empty_aws.write_text("")
    token, port = secrets.token_hex(16), sandbox.free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "AWS_CONFIG_FILE": str(empty_aws), "AWS_SHARED_CREDENTIALS_FILE": str(empty_aws)}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    with (base / "lab.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
             "--LabApp.news_url="],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, audit_root())
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        try:
            lab.api("status")
            return lab, server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(f"JupyterLab did not start; its log: {base / 'lab.log'}") from None
            time.sleep(0.3)


def stop_lab(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def launch_chromium(playwright):
    """Debian's Chromium through Playwright (its own browser download cannot work on a closed network)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def code_cells(notebook: str) -> list:
    return [c for c in nbformat.read(NOTEBOOKS.parent / notebook, as_version=4).cells if c.cell_type == "code"]


def _cli_missing() -> bool:
    try:
        find_pulumi_cli()
    except PulumiCliMissingError:
        return True
    return False


def expected_errors(notebook: str) -> set[int]:
    """Code cells (0-based) expected to end with an error on this machine: the drift check's outcome, when no Pulumi
    CLI is installed (with one, drift must run clean)."""
    if notebook.endswith("runbooks/drift.ipynb") and _cli_missing():
        return {len(code_cells(notebook)) - 1}
    return set()


def expected_rendering(notebook: str) -> tuple[int, int]:
    """Tables and figures the committed notebook's stored outputs hold (the test follows the notebooks)."""
    tables = images = 0
    for cell in code_cells(notebook):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            tables += "<table" in "".join(data.get("text/html", ""))
            images += "image/png" in data
    return tables, images


def evidence(page, lab, notebook: str, name: str) -> Path:
    """A screenshot, the page's text and the server's copy of the notebook, under test-artefacts/browser/."""
    folder = ARTEFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "page.png"), full_page=True)
    (folder / "page.txt").write_text(page.inner_text("body"))
    try:
        (folder / "notebook.json").write_text(json.dumps(lab.api(f"contents/{notebook}"), indent=1))
    except OSError as exc:
        (folder / "notebook.json").write_text(json.dumps({"error": str(exc)}))
    return folder


def open_notebook(page, lab, notebook: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{notebook}?token={lab.token}&reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell.jp-CodeCell", timeout=OPEN_TIMEOUT_MS)
    # The kernel is connected and idle once the status bar says so.
    page.wait_for_selector(".jp-StatusBar-Widget :text('| Idle')", timeout=OPEN_TIMEOUT_MS)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=OPEN_TIMEOUT_MS)


def set_parameters(page, notebook: str, **values) -> None:
    """Rewrite the parameters cell in its editor, as an operator types it."""
    [parameters] = [c for c in code_cells(notebook) if "parameters" in c.metadata.get("tags", [])]
    source = parameters.source
    for name, value in values.items():
        source, count = re.subn(rf"^{name} = .*?(  #|$)", lambda m: f"{name} = {value!r}{m.group(1)}".replace(
            "'", '"'), source, flags=re.M)
        assert count == 1, name
    editor = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell").nth(0).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


def _click_run_all(page) -> None:
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")


def run_all(page) -> list[dict]:
    """Run > Run All Cells, then wait (bounded) until the kernel is idle and no cell is queued or running; returns
    what each code cell shows."""
    _click_run_all(page)
    deadline, quiet_since = time.monotonic() + RUN_TIMEOUT_S, None
    clicked_at, started = time.monotonic(), False
    while time.monotonic() < deadline:
        cells = page.evaluate(CELLS_SCRIPT)
        status = page.get_attribute(".jp-Notebook-ExecutionIndicator", "data-status")
        busy = status != "idle" or any("*" in c["prompt"] for c in cells)
        started = started or any(re.search(r"\[(\d+|\*)\]", c["prompt"]) for c in cells)
        if not started and time.monotonic() - clicked_at > 10:
            # A kernel still connecting when the menu was used can drop the request: ask again, as a user would.
            _click_run_all(page)
            clicked_at = time.monotonic()
        if started and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.5:
                return cells
        else:
            quiet_since = None
        time.sleep(0.25)
    return page.evaluate(CELLS_SCRIPT)


def problems_of(cells: list[dict], errors_expected: set[int]) -> list[str]:
    """What is wrong with a Run All: cells not executed, errors or stderr where none is expected."""
    problems = []
    for index, cell in enumerate(cells):
        if not re.fullmatch(r"\[\d+\]:", cell["prompt"].strip()):
            problems.append(f"code cell {index} did not execute (prompt {cell['prompt'].strip()!r})")
        errors = [o["text"] for o in cell["outputs"] if o["mime"] == STDERR]
        if index in errors_expected:
            if len(errors) != 1 or not is_message(errors[0]):
                problems.append(f"code cell {index} should show one short message, shows {errors!r}")
        elif errors:
            problems.append(f"code cell {index} shows an error or stderr: {errors[0][:500]!r}")
    return problems


def is_message(text: str) -> bool:
    """Whether an error output is a short message rather than a traceback."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return 0 < len(lines) <= MESSAGE_LINES and not any(
        line.startswith("Traceback") or 'File "' in line or re.match(r"^\s*-+>", line) for line in lines)


def assert_run_all_is_clean(page, lab, notebook: str) -> None:
    """Open the notebook, Run All, and fail (keeping evidence) unless every code cell executed, no cell shows an
    error or stderr beyond what this machine must show, and the stored outputs' tables and figures rendered."""
    open_notebook(page, lab, notebook)
    cells = run_all(page)
    problems = problems_of(cells, expected_errors(notebook))
    tables, images = expected_rendering(notebook)
    if len(cells) != len(code_cells(notebook)):
        problems.append(f"{len(cells)} code cells in the page, {len(code_cells(notebook))} in the notebook")
    if sum(c["tables"] for c in cells) < tables:
        problems.append(f"{sum(c['tables'] for c in cells)} tables rendered, the stored outputs hold {tables}")
    if sum(c["images"] for c in cells) < images:
        problems.append(f"{sum(c['images'] for c in cells)} figures rendered, the stored outputs hold {images}")
    if problems:
        folder = evidence(page, lab, notebook, f"run-all-{notebook}")
        raise AssertionError(f"{notebook} in JupyterLab: " + "; ".join(problems)
                             + f" (screenshot and page text: {folder})")
    if expected_errors(notebook):
        [message] = [o["text"] for o in cells[-1]["outputs"] if o["mime"] == STDERR]
        assert "tradai-nb setup" in message, message
