"""Using the product never dirties the repository.

An afternoon in the lab, as `make lab` sets it up: JupyterLab in the repository's git-ignored
working folder, on the repository's own notebooks/ as the gallery's library. Open a guide from the
gallery, Run All, save; open the demo dataset's starter, Run All, save; start a new notebook from
the launcher, run a cell, save. Afterwards `git status` must show exactly what it showed before:
the work went into copies in the working folder, and no shipped notebook was touched.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]


def _workdir() -> Path:
    """The working folder `make lab` starts JupyterLab in (the Makefile's WORKDIR)."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^WORKDIR := (\S+)$", makefile, re.MULTILINE)
    assert match, "the Makefile no longer names JupyterLab's working folder (WORKDIR := ...)"
    return REPO / match.group(1)


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _fingerprints(folder: Path) -> dict[Path, str]:
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def workdir() -> Iterator[Path]:
    """The repository's real working folder; whatever this test adds to it is removed after."""
    folder = _workdir()
    existed = folder.exists()
    folder.mkdir(exist_ok=True)
    before = set(folder.rglob("*"))
    yield folder
    if not existed:
        shutil.rmtree(folder)
        return
    for path in sorted(set(folder.rglob("*")) - before, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def test_make_lab_starts_jupyterlab_in_the_ignored_working_folder() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    workdir = _workdir().relative_to(REPO)
    assert f"jupyter lab --ServerApp.root_dir={workdir}" in dry_run
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{workdir}/any.ipynb"], cwd=REPO)
    assert ignored.returncode == 0, f"{workdir}/ is not git-ignored"


def _saved_outputs(path: Path) -> int:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(len(cell.get("outputs", [])) for cell in notebook["cells"])


def test_an_afternoon_in_the_lab_leaves_git_status_as_it_was(
    start_lab: Callable,
    workdir: Path,
    page: Page,
    open_notebook: Callable,
    current_tab: Locator,
    screenshot: Callable[[str], Path],
) -> None:
    status_before = _git_status()
    shipped = _fingerprints(REPO / "notebooks")
    lab = start_lab(workdir, library=REPO / "notebooks")
    _, listing = lab.api("GET", "workbench/gallery")
    guide = next(item for item in listing["items"] if item["kind"] == "guide")
    page.goto(f"{lab.url}/lab?reset")

    opened: list[str] = []
    for item_id in (guide["id"], listing["datasets"][0]["id"]):
        # The server picks the copy's name (a free one): read it from its answer.
        with page.expect_response(lambda r: "/workbench/copies" in r.url, timeout=60_000) as answer:
            page.locator(f"#workbench-gallery [data-workbench-id='{item_id}']").click()
        path = answer.value.json()["path"]
        name = Path(path).name
        expect(current_tab).to_have_text(name, timeout=60_000)
        notebook = open_notebook(lab, path, navigate=False)
        notebook.run_all()
        assert notebook.errors() == [], f"{path}: {notebook.errors()}"
        notebook.save()
        screenshot(Path(name).stem)
        opened.append(path)

    # A notebook of one's own, from the launcher.
    page.locator("#jp-main-dock-panel .lm-TabBar-addButton").click()
    # The launcher the lab opened with may still sit in a tab behind: use the one on screen.
    page.locator(".jp-LauncherCard[data-category='Notebook']:visible").first.click()
    expect(current_tab).to_contain_text("Untitled", timeout=60_000)
    new_name = current_tab.inner_text().strip()
    mine = open_notebook(lab, new_name, navigate=False)
    mine.code_cells.first.locator(".jp-InputArea-editor").click()
    page.keyboard.type("print('my own analysis')")
    mine.run_cell(0)
    mine.save()
    opened.append(new_name)
    screenshot("my-notebook")

    for path in opened:
        assert _saved_outputs(workdir / path) > 0, f"{path} was not saved with its outputs"
    assert _fingerprints(REPO / "notebooks") == shipped
    assert _git_status() == status_before
