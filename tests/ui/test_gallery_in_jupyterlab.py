"""The gallery as a newcomer meets it in JupyterLab: open at start, grouped by role, and each
guide or case opened as a copy in the working folder whose first cell runs."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A copy of the repository's guides and cases, so that nothing the test does can touch them."""
    library = tmp_path / "library"
    for folder in ("guides", "cases"):
        (library / folder).mkdir(parents=True)
        for notebook in sorted((REPO / "notebooks" / folder).glob("*.ipynb")):
            shutil.copy(notebook, library / folder)
    assert any((library / "cases").iterdir()), "notebooks/cases/ has no case study"
    return library


def _gallery_item(page: Page, item_id: str):
    return page.locator(f"#workbench-gallery [data-workbench-id='{item_id}']")


def _first_of(listing: dict, kind: str) -> dict:
    return next(item for item in listing["items"] if item["kind"] == kind)


def test_gallery_opens_guides_and_cases_as_copies_whose_first_cell_runs(
    start_lab: Callable,
    library: Path,
    tmp_path: Path,
    page: Page,
    open_notebook: Callable,
    screenshot: Callable[[str], Path],
    current_tab: Locator,
    console_errors: list[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    lab = start_lab(work, library=library)
    status, listing = lab.api("GET", "workbench/gallery")
    assert status == 200 and listing["problems"] == []
    originals = {p: p.read_bytes() for p in library.rglob("*.ipynb")}

    page.goto(f"{lab.url}/lab?reset")
    gallery = page.locator("#workbench-gallery")
    expect(gallery).to_be_visible(timeout=60_000)  # open at start, nothing clicked
    # Every item under its role's heading, with its title and summary.
    for item in listing["items"]:
        section = gallery.locator(f"[data-section='role-{item['role']}']")
        label = next(r["label"] for r in listing["roles"] if r["id"] == item["role"])
        expect(section.locator("h3")).to_have_text(label)
        entry = section.locator(f"[data-workbench-id='{item['id']}']")
        expect(entry).to_contain_text(item["title"])
        expect(entry).to_contain_text(item["summary"])
    expect(gallery.locator("[data-section='datasets']")).to_contain_text("Demo shop")
    screenshot("gallery")

    for kind in ("guide", "case"):
        item = _first_of(listing, kind)
        _gallery_item(page, item["id"]).click()
        expect(current_tab).to_contain_text(Path(item["id"]).name, timeout=60_000)
        copy = work / item["id"]
        assert copy.read_bytes() == (library / item["id"]).read_bytes()
        notebook = open_notebook(lab, item["id"], navigate=False)
        cell = notebook.run_cell(0)
        expect(cell.locator(".jp-InputPrompt")).to_have_text("[1]:")
        assert notebook.errors() == [], f"{item['id']}: {notebook.errors()}"
        screenshot(f"{kind}-first-cell")

    # Opening the guide again makes a second copy, next to the first, which is kept as it was.
    guide = _first_of(listing, "guide")
    first_copy = (work / guide["id"]).read_bytes()
    _gallery_item(page, guide["id"]).click()
    second = re.sub(r"\.ipynb$", "-2.ipynb", guide["id"])
    expect(current_tab).to_contain_text(Path(second).name, timeout=60_000)
    assert (work / second).exists() and (work / guide["id"]).read_bytes() == first_copy

    assert {p: p.read_bytes() for p in library.rglob("*.ipynb")} == originals
    assert console_errors == []

    # When a copy cannot be made, the user reads why, from the server: the gist in a
    # notification, the whole message under the item they clicked.
    (work / "datasets").write_text("a file where the folder would go", encoding="utf-8")
    dataset = listing["datasets"][0]
    _gallery_item(page, dataset["id"]).click()
    toast = page.locator(".jp-Notification-Toast-error .jp-toast-message")
    expect(toast).to_contain_text(
        f"Could not open {dataset['title']}: datasets in the working folder is a file, not a folder"
    )
    expect(gallery.locator("[role='alert']")).to_have_text(
        "datasets in the working folder is a file, not a folder: rename it so the gallery can "
        f"put copies there (working folder {work})"
    )
    screenshot("cannot-copy")


def test_launcher_has_a_funnel_workbench_section_that_opens_copies(
    lab, page: Page, screenshot: Callable[[str], Path], current_tab: Locator
) -> None:
    status, listing = lab.api("GET", "workbench/gallery")
    assert status == 200
    page.goto(f"{lab.url}/lab?reset")
    section = page.locator(".jp-Launcher-section", has_text="Funnel Workbench")
    expect(section).to_be_visible(timeout=60_000)
    cards = section.locator(".jp-LauncherCard")
    titles = [item["title"] for item in listing["items"] + listing["datasets"]]
    expect(cards).to_have_count(len(titles) + 1)  # and the card that shows the gallery
    for title in titles:
        expect(section.locator(".jp-LauncherCard", has_text=title)).to_be_visible()
    screenshot("launcher")

    dataset = listing["datasets"][0]
    section.locator(".jp-LauncherCard", has_text=dataset["title"]).click()
    expect(current_tab).to_contain_text(Path(dataset["id"]).name, timeout=60_000)
    starter = json.loads((lab.root / "datasets" / "ecommerce.ipynb").read_text(encoding="utf-8"))
    assert starter["metadata"]["workbench"]["dataset"] == "ecommerce"
