"""Fixtures for tests that drive Funnel Workbench in a real JupyterLab in a real browser.

JupyterLab runs from this interpreter's environment (the project's ``.venv``, where ``make build``
installed the package, the extension and the server extension) on 127.0.0.1 with an empty token,
in a temporary working folder, with temporary Jupyter config, data, runtime, settings and
workspace folders, so nothing of the developer's own JupyterLab leaks in or is written to. It is
stopped by its PID (its kernels with it) when the fixture ends. The browser is Debian's
``/usr/bin/chromium`` through Playwright for Python (``make test`` installs it; never run
``playwright install``, it cannot download here), with a fresh profile for every launch.
Screenshots go to ``test-output/ui/<test>/`` (git-ignored); every test's last view is saved there
as ``final.png`` whether it passes or fails.

The fixtures:

- ``lab``: a JupyterLab shared by the tests of one module, in a working folder (``lab.root``)
  that starts empty (files one test writes there are seen by the next), listing the notebooks
  the installed package ships. ``lab.api(method, path, body)`` calls its HTTP API; ``lab.pid``.
- ``start_lab(root, library=None, args=(), token="")``: a JupyterLab of one test's own, e.g. on
  a fixture notebook library (``--WorkbenchLab.library_dir``); stopped when the test ends.
- ``page``: a fresh browser page, 1440 x 900. ``console_errors``: what the page logged as errors.
- ``open_notebook(lab, path)``: opens ``lab.root / path`` at ``/lab/tree/<path>?reset``, waits for
  its kernel to be idle and returns a ``Notebook``: ``run_all()``, ``run_cell(n)``, ``save()``,
  ``errors()``, ``panel`` (a Playwright locator on the notebook, to find widgets and charts in).
  ``open_notebook(lab, path, navigate=False)`` attaches to a notebook already on screen.
- ``write_notebook(path, *sources)``: writes a notebook with one code cell per source.
- ``screenshot(name)``: saves ``test-output/ui/<test>/<name>.png``.
- ``current_tab``: a locator on the main area's tab in front (its label is the file name).

Run them alone with ``.venv/bin/pytest tests/ui -q`` (after ``make build browser``). A widget
test, sketched (``FunnelBuilder`` and its ``.drill-down`` panel are what issue 10 adds)::

    from playwright.sync_api import expect

    def test_clicking_the_worst_step_opens_its_drill_down(lab, write_notebook, open_notebook,
                                                          screenshot):
        write_notebook(lab.root / "builder.ipynb",
                       "import workbench as wb",
                       "wb.FunnelBuilder(wb.datasets.ecommerce().log())")
        notebook = open_notebook(lab, "builder.ipynb")
        notebook.run_all()
        bars = notebook.panel.locator("g.mark-rect path")
        bars.nth(3).click()
        expect(notebook.panel.locator(".drill-down")).to_contain_text("users")
        screenshot("drill-down")
        assert notebook.errors() == []
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import psutil
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
# What works in this container: no sandbox (root, no user namespaces), no GPU, and nothing that
# reaches for the network on its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
VIEWPORT = {"width": 1440, "height": 900}
# The tab of the document in front, in the main area (side panels have tabs too).
CURRENT_TAB = "#jp-main-dock-panel .lm-TabBar-tab.jp-mod-current"
START_TIMEOUT_S = 120  # two shared cores: JupyterLab and a first kernel can be slow to start
KERNEL_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 300_000
# JupyterLab settings for the tests' private settings folder: no news toast over the page (the
# same override make installs for `make lab`), every cell kept in the page so a test can find
# any cell's output without scrolling it into view, and no rename dialog on a first save.
SETTINGS = {
    **json.loads((REPO / "extensions" / "overrides.json").read_text(encoding="utf-8")),
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension:plugin": {"renameUntitledFileOnSave": False},
}


# -- the server --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_settings(folder: Path) -> None:
    """Write SETTINGS as user settings files (``<package>/<plugin>.jupyterlab-settings``)."""
    for plugin_id, values in SETTINGS.items():
        package, plugin = plugin_id.split(":")
        path = folder / package / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@dataclass
class JupyterLab:
    """A running JupyterLab server started by these fixtures."""

    root: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    _cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    @property
    def pid(self) -> int:
        return self.process.pid

    def api(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """Call the server's HTTP API (``path`` below the base URL); returns status and JSON.

        Sends the XSRF cookie and header that Jupyter asks of every POST, as a browser does, and
        ``token`` (if given) as the Authorization header.
        """
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._cookies))
        if method != "GET" and not any(c.name == "_xsrf" for c in self._cookies):
            opener.open(f"{self.url}/lab", timeout=30).close()  # the page sets the cookie
        xsrf = next((c.value for c in self._cookies if c.name == "_xsrf"), "")
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
        request = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}",
            data=data.encode() if isinstance(data, str) else data,
            method=method,
            headers={
                "X-XSRFToken": xsrf,
                "Content-Type": "application/json",
                **({"Authorization": f"token {token}"} if token else {}),
            },
        )
        try:
            with opener.open(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
            error.close()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.decode(errors="replace")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the server by its PID; kernels it started are stopped with it."""
        if self.process.poll() is not None:
            return
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.process.terminate()  # SIGTERM: jupyter_server shuts its kernels down, then exits
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        # A kernel the server could not stop in time is ours too: end it by its PID.
        alive = [child for child in children if child.is_running()]
        for child in alive:
            child.kill()
        psutil.wait_procs(alive, timeout=10)


def start_jupyterlab(
    root: Path,
    home: Path,
    library: Path | None = None,
    args: Sequence[str] = (),
    token: str = "",
) -> JupyterLab:
    """Start JupyterLab in ``root`` with its Jupyter folders in ``home``; wait until it answers.

    The empty token lets the browser in without logging in; give one to test the opposite.
    """
    for name in ("config", "data", "runtime", "settings", "workspaces"):
        (home / name).mkdir(parents=True, exist_ok=True)
    _write_settings(home / "settings")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *([f"--WorkbenchLab.library_dir={library}"] if library is not None else []),
        *(["--allow-root"] if os.geteuid() == 0 else []),
        *args,
    ]
    log = home / "jupyterlab.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    lab = JupyterLab(root=root, url=f"http://127.0.0.1:{port}", process=process, log=log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{lab.log_text()}")
        try:
            urllib.request.urlopen(f"{lab.url}/api/status", timeout=5).close()
            return lab
        except urllib.error.HTTPError as error:  # answering, if only to refuse (a token is set)
            error.close()
            return lab
        except OSError:
            time.sleep(0.3)
    lab.stop()
    raise RuntimeError(f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{lab.log_text()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab in an empty working folder, on the notebooks the installed package ships."""
    base = tmp_path_factory.mktemp("lab")
    (base / "work").mkdir()
    server = start_jupyterlab(base / "work", base / "home")
    yield server
    server.stop()


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[Callable[..., JupyterLab]]:
    """``start_lab(root, library=None, args=(), token="")``: a JupyterLab for this test alone."""
    started: list[JupyterLab] = []

    def start(
        root: Path, library: Path | None = None, args: Sequence[str] = (), token: str = ""
    ) -> JupyterLab:
        server = start_jupyterlab(root, tmp_path / f"home-{len(started)}", library, args, token)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, through Playwright (a fresh temporary profile)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True
        )
        yield launched
        launched.close()


def _output_dir(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    folder = OUTPUT / f"{Path(request.node.path).stem}.{name}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the page logged (console errors and uncaught exceptions), in order."""
    return []


@pytest.fixture
def page(
    browser: Browser, console_errors: list[str], request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh page; its last view is saved as ``final.png`` in the test's output folder."""
    context = browser.new_context(viewport=VIEWPORT)
    new_page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda error: console_errors.append(str(error)))
    yield new_page
    try:
        new_page.screenshot(path=_output_dir(request) / "final.png")
    finally:
        context.close()


@pytest.fixture
def current_tab(page: Page) -> Locator:
    """The tab of the document in front in the main area (its label is the file name)."""
    return page.locator(CURRENT_TAB)


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``screenshot(name)`` saves the page as ``test-output/ui/<test>/<name>.png``."""

    def save(name: str) -> Path:
        path = _output_dir(request) / f"{name}.png"
        page.screenshot(path=path)
        return path

    return save


# -- notebooks ---------------------------------------------------------------------------------


class Notebook:
    """A notebook open in JupyterLab, seen through the page (its panel must be the visible one).

    Args:
        page: the browser page.
        path: the notebook's path in the working folder (as its tab shows it).
    """

    def __init__(self, page: Page, path: str) -> None:
        self.page = page
        self.path = path
        self.panel: Locator = page.locator(".jp-NotebookPanel:visible")

    @property
    def code_cells(self) -> Locator:
        return self.panel.locator(".jp-CodeCell")

    def wait_until_idle(self, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
        """Wait for the notebook's kernel to have started and be idle.

        The execution indicator says "idle" before any kernel is attached too, so this also waits
        for the toolbar to name a kernel.
        """
        kernel = self.panel.locator(".jp-KernelName")
        kernel.wait_for(timeout=timeout_ms)
        self.page.wait_for_function(
            """panel => {
                const name = panel.querySelector('.jp-KernelName');
                const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                return name && name.textContent.trim() !== 'No Kernel'
                    && state && state.getAttribute('data-status') === 'idle';
            }""",
            arg=self.panel.element_handle(timeout=timeout_ms),
            timeout=timeout_ms,
        )

    def _last_count(self) -> int:
        """The highest execution count on screen (0 before anything ran)."""
        prompts = self.code_cells.locator(".jp-InputPrompt").all_inner_texts()
        return max((int(n) for p in prompts for n in re.findall(r"\[(\d+)\]", p)), default=0)

    def _wait_until_run(self, after: int, timeout_ms: int) -> None:
        # Done when every code cell shows a count above `after` (the highest before the run),
        # or when a cell of this run failed: JupyterLab stops a run at an error and the cells
        # queued after it go back to "[ ]".
        self.page.wait_for_function(
            r"""([panel, after]) => {
                const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                if (!state || state.getAttribute('data-status') !== 'idle') {
                    return false;
                }
                const cells = [...panel.querySelectorAll('.jp-CodeCell')].map(cell => {
                    const prompt = cell.querySelector('.jp-InputPrompt').textContent;
                    const count = /\[(\d+)\]/.exec(prompt);
                    return {
                        running: prompt.includes('*'),
                        ran: count !== null && Number(count[1]) > after,
                        failed: cell.querySelector(
                            "[data-mime-type='application/vnd.jupyter.stderr']") !== null,
                    };
                });
                return !cells.some(c => c.running)
                    && (cells.every(c => c.ran) || cells.some(c => c.ran && c.failed));
            }""",
            arg=[self.panel.element_handle(), after],
            timeout=timeout_ms,
            polling=250,
        )

    def run_all(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Run > Run All Cells, and wait until the run ends (all cells ran, or one failed)."""
        after = self._last_count()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator("li[data-command='runmenu:run-all']").click()
        self._wait_until_run(after, timeout_ms)

    def run_cell(self, index: int, timeout_ms: int = RUN_TIMEOUT_MS) -> Locator:
        """Run the ``index``-th code cell (Shift+Enter) and wait until it shows a new execution
        count; returns the cell."""
        after = self._last_count()
        cell = self.code_cells.nth(index)
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_function(
            r"""([prompt, after]) => {
                const match = /^\[(\d+)\]:$/.exec(prompt.textContent.trim());
                return match !== null && Number(match[1]) > after;
            }""",
            arg=[cell.locator(".jp-InputPrompt").element_handle(), after],
            timeout=timeout_ms,
        )
        return cell

    def errors(self) -> list[str]:
        """Text of every error or stderr output on screen (tracebacks and warnings)."""
        return self.panel.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()

    def save(self, timeout_ms: int = 30_000) -> None:
        """Save (the toolbar's save button) and wait until the tab is no longer marked dirty."""
        self.panel.locator("jp-button[data-command='docmanager:save']").click()
        self.page.locator(f"{CURRENT_TAB}.jp-mod-dirty").wait_for(
            state="detached", timeout=timeout_ms
        )


@pytest.fixture
def open_notebook(page: Page) -> Callable[..., Notebook]:
    """``open_notebook(lab, path, navigate=True)``: the notebook at ``lab.root / path``, open and
    with its kernel idle."""

    def open_(lab: JupyterLab, path: str, navigate: bool = True) -> Notebook:
        if navigate:
            page.goto(f"{lab.url}/lab/tree/{quote(path)}?reset")
        notebook = Notebook(page, path)
        notebook.wait_until_idle()
        return notebook

    return open_


@pytest.fixture
def write_notebook() -> Callable[..., Path]:
    """``write_notebook(path, *sources)``: a notebook (python3 kernel) with one code cell per
    source, written to ``path``."""

    def write(path: Path, *sources: str) -> Path:
        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source) for source in sources],
            metadata={
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        return path

    return write
