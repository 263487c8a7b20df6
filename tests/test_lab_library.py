"""The gallery's library and copies (workbench.lab.library), without a server: what a notebook's
metadata must say to be listed, how copies are named, and that the shipped notebooks qualify."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from workbench.exceptions import GalleryError, MetadataError
from workbench.lab.library import (
    FOLDERS,
    MAX_COPIES,
    ROLES,
    Gallery,
    read_item,
    scan,
    write_new,
)
from workbench.lab.starters import STARTERS

REPO = Path(__file__).resolve().parents[1]
GOOD = {"kind": "guide", "role": "analyst", "title": "T", "summary": "S.", "order": 1}


def _write(path: Path, metadata: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = {"cells": [], "metadata": {"workbench": metadata}, "nbformat": 4}
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


# -- the shipped notebooks ---------------------------------------------------------------------


def test_every_shipped_notebook_is_in_the_gallery() -> None:
    shipped = sorted(
        p.relative_to(REPO / "notebooks").as_posix()
        for folder in FOLDERS
        for p in (REPO / "notebooks" / folder).glob("*.ipynb")
    )
    items, problems = scan(REPO / "notebooks")
    assert problems == []
    assert sorted(item.id for item in items) == shipped


def test_notebooks_readme_documents_the_metadata_schema() -> None:
    readme = (REPO / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert "metadata.workbench" in readme
    for word in [*ROLES, *FOLDERS.values(), "title", "summary", "order"]:
        assert f"`{word}`" in readme or f'"{word}"' in readme, f"README does not explain {word}"


# -- metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (None, "metadata.workbench is missing; expected an object with kind, role, title"),
        ({**GOOD, "kind": "case"}, "kind is 'case'; expected 'guide' for a notebook in guides/"),
        ({**GOOD, "role": "pm"}, "role is 'pm'; expected one of 'analyst', 'product'"),
        ({**GOOD, "title": ""}, "title is ''; expected a non-empty string"),
        ({**GOOD, "title": 7}, "title is 7; expected a non-empty string"),
        ({**GOOD, "summary": "two\nlines"}, "summary must be one line"),
        ({**GOOD, "summary": "x" * 201}, "summary has 201 characters; expected at most 200"),
        ({**GOOD, "order": "1"}, "order is '1'; expected an integer"),
        ({**GOOD, "order": True}, "order is True; expected an integer"),
    ],
)
def test_metadata_errors_name_the_notebook_the_field_and_what_was_expected(
    tmp_path: Path, metadata: object, message: str
) -> None:
    path = _write(tmp_path / "guides" / "bad.ipynb", metadata)
    with pytest.raises(MetadataError) as raised:
        read_item(tmp_path, path)
    assert str(raised.value).startswith("guides/bad.ipynb: ")
    assert message in str(raised.value)


def test_a_file_that_is_not_json_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "broken.ipynb").write_text("{ not json", encoding="utf-8")
    items, problems = scan(tmp_path)
    assert items == []
    assert len(problems) == 1 and problems[0].startswith("guides/broken.ipynb: not a readable")


def test_a_missing_library_is_said_in_the_gallery(tmp_path: Path) -> None:
    listing = Gallery(tmp_path / "missing", tmp_path).listing()
    assert listing["items"] == [] and len(listing["datasets"]) == len(STARTERS)
    assert listing["problems"] == [
        f"no notebook library at {tmp_path / 'missing'}: the gallery lists guides/ and cases/ "
        "from there (WorkbenchLab.library_dir names another folder)"
    ]


def test_items_are_ordered_by_role_then_guides_before_cases_then_order(tmp_path: Path) -> None:
    _write(tmp_path / "cases" / "a.ipynb", {**GOOD, "kind": "case", "title": "case 1"})
    _write(tmp_path / "guides" / "b.ipynb", {**GOOD, "title": "guide 2", "order": 2})
    _write(tmp_path / "guides" / "c.ipynb", {**GOOD, "title": "guide 1", "order": 1})
    _write(tmp_path / "guides" / "d.ipynb", {**GOOD, "title": "engineer", "role": "engineer"})
    _write(tmp_path / "guides" / "e.ipynb", {**GOOD, "title": "ops", "role": "operations"})
    assert [item.title for item in scan(tmp_path)[0]] == [
        "guide 1",
        "guide 2",
        "case 1",
        "ops",
        "engineer",
    ]


# -- copies ------------------------------------------------------------------------------------


def test_copies_take_the_next_free_name_and_never_replace_a_file(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "a.ipynb").write_text("mine", encoding="utf-8")
    (tmp_path / "guides" / "a-3.ipynb").symlink_to(tmp_path / "nowhere")
    names = [write_new(tmp_path / "guides", "a.ipynb", b"copy") for _ in range(3)]
    assert names == ["a-2.ipynb", "a-4.ipynb", "a-5.ipynb"]
    assert (tmp_path / "guides" / "a.ipynb").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "nowhere").exists()


def test_copies_made_at_the_same_time_get_different_names(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda n: write_new(tmp_path, "a.ipynb", b"%d" % n), range(40)))
    assert len(set(names)) == 40
    assert sorted(int(p.read_bytes()) for p in tmp_path.iterdir()) == list(range(40))


def test_copies_stop_with_a_clear_error_when_every_name_is_taken(tmp_path: Path) -> None:
    for number in range(1, MAX_COPIES + 1):
        name = "a.ipynb" if number == 1 else f"a-{number}.ipynb"
        (tmp_path / name).touch()
    with pytest.raises(GalleryError, match=f"already holds {MAX_COPIES} copies of a.ipynb") as e:
        write_new(tmp_path, "a.ipynb", b"")
    assert e.value.status == 409


def test_opening_copies_the_notebook_byte_for_byte_into_its_folder(tmp_path: Path) -> None:
    source = _write(tmp_path / "library" / "cases" / "x.ipynb", {**GOOD, "kind": "case"})
    work = tmp_path / "work"
    work.mkdir()
    gallery = Gallery(tmp_path / "library", work)
    assert gallery.open("cases/x.ipynb") == "cases/x.ipynb"
    assert (work / "cases" / "x.ipynb").read_bytes() == source.read_bytes()


def test_a_copy_the_file_system_refuses_is_an_error_naming_the_file(tmp_path: Path) -> None:
    name = "n" * (255 - len(".ipynb")) + ".ipynb"  # the longest name: "-2" cannot be added
    _write(tmp_path / "library" / "guides" / name, GOOD)
    (tmp_path / "work").mkdir()
    gallery = Gallery(tmp_path / "library", tmp_path / "work")
    assert gallery.open(f"guides/{name}") == f"guides/{name}"
    with pytest.raises(GalleryError) as raised:
        gallery.open(f"guides/{name}")
    assert raised.value.status == 500
    assert str(raised.value) == (
        f"could not write a copy of {name} into guides/ of the working folder: File name too long"
    )


@pytest.mark.parametrize("starter", STARTERS, ids=lambda s: s.id)
def test_a_dataset_writes_a_valid_starter_notebook_without_outputs(tmp_path: Path, starter) -> None:
    path = Gallery(tmp_path, tmp_path).open(starter.id)
    assert path == f"datasets/{starter.filename}"
    notebook = nbformat.read(tmp_path / path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] for cell in code)
    assert "wb.datasets." in code[0].source
