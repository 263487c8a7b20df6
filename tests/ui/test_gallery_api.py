"""The gallery's server API in a running JupyterLab: what it lists, and that no request can make it
read or write outside the notebook library and the working folder.

Each bad request must get a 4xx whose JSON message names the value and what was expected; the
browser shows that message as is, so a traceback must never be in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

GUIDE = "guides/01-guide.ipynb"


def _notebook(path: Path, workbench: dict | None, code: str = "print('hello')") -> Path:
    metadata: dict = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    if workbench is not None:
        metadata["workbench"] = workbench
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "id": "c0",
                "metadata": {},
                "source": code,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def _meta(kind: str = "guide", **fields: object) -> dict:
    return {
        "kind": kind,
        "role": "analyst",
        "title": "A guide",
        "summary": "One line.",
        "order": 1,
        **fields,
    }


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """A library with one good guide and one good case, the traps around it, and an empty
    working folder."""
    library, work, outside = tmp_path / "library", tmp_path / "work", tmp_path / "outside"
    for folder in (library, work, outside):
        folder.mkdir()
    _notebook(library / GUIDE, _meta(title="The guide"))
    _notebook(library / "cases" / "01-case.ipynb", _meta("case", title="The case", role="product"))
    _notebook(library / "guides" / "02-no-metadata.ipynb", None)
    _notebook(library / "guides" / "03-bad-role.ipynb", _meta(role="ceo"))
    (library / "guides" / "README.md").write_text("not a notebook", encoding="utf-8")
    secret = _notebook(outside / "secret.ipynb", _meta(title="SECRET"), code="'SECRET'")
    (library / "guides" / "04-linked.ipynb").symlink_to(secret)
    return {"library": library, "work": work, "outside": outside, "secret": secret}


def test_gallery_lists_described_notebooks_and_says_why_others_are_left_out(
    start_lab: Callable, folders: dict[str, Path]
) -> None:
    lab = start_lab(folders["work"], library=folders["library"])
    status, listing = lab.api("GET", "workbench/gallery")
    assert status == 200
    assert [(i["id"], i["title"], i["role"]) for i in listing["items"]] == [
        (GUIDE, "The guide", "analyst"),
        ("cases/01-case.ipynb", "The case", "product"),
    ]
    assert [d["id"] for d in listing["datasets"]] == ["datasets/ecommerce"]
    problems = "\n".join(listing["problems"])
    assert "guides/02-no-metadata.ipynb: metadata.workbench is missing" in problems
    assert "guides/03-bad-role.ipynb: metadata.workbench.role is 'ceo'; expected one of" in problems
    assert "guides/04-linked.ipynb: a symbolic link" in problems
    assert "SECRET" not in json.dumps(listing)


def test_bad_requests_get_a_4xx_naming_the_value_and_write_nothing(
    start_lab: Callable, folders: dict[str, Path]
) -> None:
    library, work = folders["library"], folders["work"]
    lab = start_lab(work, library=library)
    bad: list[tuple[object, int, str]] = [
        (b"not json", 400, 'expected a JSON body {"id": "<gallery item id>"}'),
        ({"path": GUIDE}, 400, 'expected a JSON body {"id": "<gallery item id>"}'),
        ({"id": 3}, 400, "the item id is 3; expected the id of a gallery item"),
        ({"id": ""}, 400, "the item id is ''; expected the id of a gallery item"),
        ({"id": "../outside/secret.ipynb"}, 400, "'../outside/secret.ipynb' leaves the notebook"),
        ({"id": "guides/../../outside/secret.ipynb"}, 400, "leaves the notebook library"),
        ({"id": str(folders["secret"])}, 400, f"'{folders['secret']}' is an absolute path"),
        ({"id": "/etc/passwd"}, 400, "'/etc/passwd' is an absolute path"),
        ({"id": "C:\\Windows\\win.ini"}, 400, "is an absolute path"),
        ({"id": "guides\\..\\..\\secret.ipynb"}, 400, "contains a backslash"),
        ({"id": "guides/README.md"}, 400, "'guides/README.md' is not a notebook; expected"),
        ({"id": "guides/missing.ipynb"}, 404, "no gallery item 'guides/missing.ipynb'"),
        ({"id": "guides/02-no-metadata.ipynb"}, 404, "metadata.workbench is missing"),
        ({"id": "guides/04-linked.ipynb"}, 404, "a symbolic link; the gallery reads only real"),
        ({"id": "datasets/nope"}, 400, "or one of the demo datasets: 'datasets/ecommerce'"),
    ]
    failures = []
    for body, status, message in bad:
        got_status, reply = lab.api("POST", "workbench/copies", body)
        text = json.dumps(reply)
        if got_status != status or message not in reply.get("message", "") or "Traceback" in text:
            failures.append(f"{body!r}: {got_status} {text}")
    assert failures == []
    assert list(work.iterdir()) == []  # nothing written for any of them
    assert "SECRET" not in lab.log_text()


def test_copies_go_only_into_real_folders_of_the_working_folder(
    start_lab: Callable, folders: dict[str, Path]
) -> None:
    work, outside = folders["work"], folders["outside"]
    (work / "cases").symlink_to(outside, target_is_directory=True)  # a link out of the folder
    (work / "datasets").write_text("a file where the folder would go", encoding="utf-8")
    (work / "guides").mkdir()
    (work / GUIDE).symlink_to(outside / "planted.ipynb")  # dangling: writing it would escape
    before = sorted(p.name for p in outside.iterdir())
    lab = start_lab(work, library=folders["library"])

    status, reply = lab.api("POST", "workbench/copies", {"id": "cases/01-case.ipynb"})
    assert status == 409
    assert reply["message"].startswith(
        f"cases/ in the working folder is a symbolic link (to {outside}): the gallery writes "
        f"copies only into real folders inside the working folder {work}"
    )
    status, reply = lab.api("POST", "workbench/copies", {"id": "datasets/ecommerce"})
    assert status == 409
    assert reply["message"].startswith("datasets in the working folder is a file, not a folder")

    # The name the link holds counts as taken: the copy gets the next free name, and nothing is
    # written through the link.
    status, reply = lab.api("POST", "workbench/copies", {"id": GUIDE})
    assert (status, reply["path"]) == (201, "guides/01-guide-2.ipynb")
    assert (work / "guides" / "01-guide-2.ipynb").read_bytes() == (
        folders["library"] / GUIDE
    ).read_bytes()
    assert sorted(p.name for p in outside.iterdir()) == before
    assert os.readlink(work / GUIDE) == str(outside / "planted.ipynb")


def test_listing_and_copying_need_the_users_token(
    start_lab: Callable, folders: dict[str, Path]
) -> None:
    lab = start_lab(folders["work"], library=folders["library"], token="s3cret")
    assert lab.api("GET", "workbench/gallery")[0] == 403
    assert lab.api("POST", "workbench/copies", {"id": GUIDE})[0] == 403
    assert list(folders["work"].iterdir()) == []
    assert lab.api("GET", "workbench/gallery", token="s3cret")[0] == 200
    assert lab.api("POST", "workbench/copies", {"id": GUIDE}, token="s3cret")[0] == 201
