"""The notebook library behind the gallery, and the copies it makes in the working folder.

The library is a folder with ``guides/`` and ``cases/`` (the repository's ``notebooks/``, shipped in
the wheel). Each notebook there describes itself in ``metadata.workbench`` (the schema is in
``notebooks/README.md``); one that does not is left out of the gallery with the reason, so its
author can see what to fix. The demo datasets are listed too: opening one writes a starter
notebook that loads it (``workbench.lab.starters``).

A gallery item is named by its id, its path in the library (``guides/01-quickstart.ipynb``).
Opening one writes a copy into the same folder of the working folder (``guides/`` there) under a
name that is free: the original stays as shipped, and an existing copy is never overwritten. Only
ids the library lists are served, and copies are written only into real folders inside the working
folder, so no request can read or write anywhere else.

Everything here reads and writes files only: nothing from the analysis layers is imported.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> library, work = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> (library / "guides").mkdir()
    >>> meta = {"kind": "guide", "role": "analyst", "title": "First funnel",
    ...         "summary": "Load the demo, run a funnel.", "order": 1}
    >>> notebook = {"cells": [], "metadata": {"workbench": meta}, "nbformat": 4,
    ...             "nbformat_minor": 5}
    >>> _ = (library / "guides" / "first.ipynb").write_text(json.dumps(notebook))
    >>> gallery = Gallery(library, work)
    >>> [item.title for item in gallery.items()]
    ['First funnel']
    >>> gallery.open("guides/first.ipynb"), gallery.open("guides/first.ipynb")
    ('guides/first.ipynb', 'guides/first-2.ipynb')
    >>> gallery.open("../secrets.ipynb")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.exceptions.GalleryError: '../secrets.ipynb' leaves the notebook library ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final, Literal

from workbench.exceptions import GalleryError, MetadataError
from workbench.lab.starters import STARTERS, Starter

Kind = Literal["guide", "case"]

#: The library's folders and the kind of notebook each holds.
FOLDERS: Final[dict[str, Kind]] = {"guides": "guide", "cases": "case"}

#: The readers the gallery groups its items for, in the order it shows them.
ROLES: Final[dict[str, str]] = {
    "analyst": "Analysts",
    "product": "Product managers",
    "operations": "Operations",
    "engineer": "Engineers",
}

SUMMARY_MAX_CHARS: Final = 200
#: ``name.ipynb``, then ``name-2.ipynb`` ... up to this many copies of one notebook.
MAX_COPIES: Final = 999


@dataclass(frozen=True)
class Item:
    """A guide or case study in the library, as its ``metadata.workbench`` describes it."""

    id: str
    kind: Kind
    role: str
    title: str
    summary: str
    order: int
    source: Path

    def to_json(self) -> dict[str, Any]:
        """What the gallery shows; the source path stays on the server."""
        return {
            "id": self.id,
            "kind": self.kind,
            "role": self.role,
            "title": self.title,
            "summary": self.summary,
            "order": self.order,
        }


def read_item(library: Path, path: Path) -> Item:
    """Describe the notebook at ``path`` (inside ``library``) from its ``metadata.workbench``.

    Raises:
        MetadataError: naming the notebook, the field and what was expected.
    """
    item_id = path.relative_to(library).as_posix()
    folder = item_id.split("/", 1)[0]
    try:
        notebook = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise MetadataError(f"{item_id}: not a readable notebook ({error})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("metadata"), dict):
        raise MetadataError(f"{item_id}: not a notebook (expected a JSON object with 'metadata')")
    meta = notebook["metadata"].get("workbench")
    if not isinstance(meta, dict):
        raise MetadataError(
            f"{item_id}: metadata.workbench is missing; expected an object with "
            "kind, role, title, summary and order (see notebooks/README.md)"
        )

    def text(field: str, max_chars: int | None = None) -> str:
        value = meta.get(field)
        if not isinstance(value, str) or not value.strip():
            raise MetadataError(
                f"{item_id}: metadata.workbench.{field} is {value!r}; expected a non-empty string"
            )
        if "\n" in value:
            raise MetadataError(f"{item_id}: metadata.workbench.{field} must be one line")
        if max_chars is not None and len(value) > max_chars:
            raise MetadataError(
                f"{item_id}: metadata.workbench.{field} has {len(value)} characters; "
                f"expected at most {max_chars} (one line in the gallery)"
            )
        return value.strip()

    kind = meta.get("kind")
    if kind != FOLDERS[folder]:
        raise MetadataError(
            f"{item_id}: metadata.workbench.kind is {kind!r}; expected {FOLDERS[folder]!r} "
            f"for a notebook in {folder}/"
        )
    role = meta.get("role")
    if role not in ROLES:
        raise MetadataError(
            f"{item_id}: metadata.workbench.role is {role!r}; expected one of "
            f"{', '.join(map(repr, ROLES))}"
        )
    order = meta.get("order")
    if not isinstance(order, int) or isinstance(order, bool):
        raise MetadataError(
            f"{item_id}: metadata.workbench.order is {order!r}; expected an integer "
            "(the item's place among its role's items)"
        )
    return Item(
        id=item_id,
        kind=FOLDERS[folder],
        role=role,
        title=text("title"),
        summary=text("summary", SUMMARY_MAX_CHARS),
        order=order,
        source=path,
    )


def scan(library: Path) -> tuple[list[Item], list[str]]:
    """Every notebook in the library's folders: the items, sorted for the gallery, and the
    problems that keep the others out (one message per notebook).

    Symbolic links are never followed: a linked folder or notebook is reported, not read.
    """
    items: list[Item] = []
    problems: list[str] = []
    for folder in FOLDERS:
        base = library / folder
        if base.is_symlink():
            problems.append(f"{folder}/: a symbolic link; the gallery reads only real folders")
            continue
        if not base.is_dir():
            continue
        for path in sorted(base.glob("*.ipynb")):
            if path.is_symlink():
                problems.append(
                    f"{folder}/{path.name}: a symbolic link; the gallery reads only real files"
                )
                continue
            try:
                items.append(read_item(library, path))
            except MetadataError as error:
                problems.append(str(error))
    roles = list(ROLES)
    kinds = list(FOLDERS.values())
    items.sort(key=lambda i: (roles.index(i.role), kinds.index(i.kind), i.order, i.title))
    return items, problems


def check_id(raw: object, example: str) -> str:
    """The id a request names, if it has the shape of one; the error says what was expected.

    Example:
        >>> check_id("/etc/passwd", "guides/a.ipynb")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        workbench.exceptions.GalleryError: '/etc/passwd' is an absolute path; expected ...
    """
    expected = f"expected the id of a gallery item, such as {example!r}"
    if not isinstance(raw, str) or not raw:
        raise GalleryError(f"the item id is {raw!r}; {expected}")
    if "\x00" in raw:
        raise GalleryError(f"{raw!r} contains a NUL character; {expected}")
    windows = PureWindowsPath(raw)
    if raw.startswith(("/", "\\")) or windows.drive or windows.is_absolute():
        raise GalleryError(f"{raw!r} is an absolute path; {expected}")
    if "\\" in raw:
        raise GalleryError(f"{raw!r} contains a backslash; {expected} (with '/')")
    if ".." in PurePosixPath(raw).parts:
        raise GalleryError(f"{raw!r} leaves the notebook library ('..' is not allowed); {expected}")
    return raw


def write_new(folder: Path, filename: str, content: bytes) -> str:
    """Write ``content`` to ``folder/filename``, or to ``stem-2.ext``, ``stem-3.ext`` ... if that
    name is taken; returns the name written. An existing file (or link) is never replaced: each
    name is claimed with an exclusive create, so two requests at once get two names.
    """
    stem, suffix = os.path.splitext(filename)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for number in range(1, MAX_COPIES + 1):
        name = filename if number == 1 else f"{stem}-{number}{suffix}"
        try:
            descriptor = os.open(folder / name, flags, 0o666)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        return name
    raise GalleryError(
        f"{folder.name}/ already holds {MAX_COPIES} copies of {filename}; "
        "delete or rename some to make room",
        status=409,
    )


def target_folder(work: Path, name: str) -> Path:
    """``work/name`` as a real folder inside the working folder, created if missing.

    Raises:
        GalleryError: (409) when ``name`` is a symbolic link or a file: the gallery writes only
            into real folders of the working folder, never through a link to elsewhere.
    """
    root = work.resolve(strict=True)
    folder = root / name
    # The gist comes first: JupyterLab's notification shows only the start of a long message.
    if folder.is_symlink():
        raise GalleryError(
            f"{name}/ in the working folder is a symbolic link (to {os.readlink(folder)}): "
            "the gallery writes copies only into real folders inside the working folder "
            f"{root}; rename or remove the link",
            status=409,
        )
    if folder.exists() and not folder.is_dir():
        raise GalleryError(
            f"{name} in the working folder is a file, not a folder: rename it so the gallery "
            f"can put copies there (working folder {root})",
            status=409,
        )
    folder.mkdir(exist_ok=True)
    return folder


class Gallery:
    """The library of shipped notebooks and the working folder copies go to.

    Args:
        library: folder with ``guides/`` and ``cases/`` (read only).
        work: the working folder (the Jupyter server's root); copies go to ``guides/``,
            ``cases/`` and ``datasets/`` there.
        starters: the demo datasets offered (by default every starter in
            ``workbench.lab.starters``).
    """

    def __init__(self, library: Path, work: Path, starters: Iterable[Starter] = STARTERS) -> None:
        self.library = Path(library)
        self.work = Path(work)
        self.starters = {starter.id: starter for starter in starters}

    def items(self) -> list[Item]:
        """The guides and cases the gallery lists (read afresh, so edits show at once)."""
        return scan(self.library)[0]

    def listing(self) -> dict[str, Any]:
        """The gallery as the JupyterLab extension reads it (``GET /workbench/gallery``)."""
        items, problems = scan(self.library)
        if not self.library.is_dir():
            problems.insert(
                0,
                f"no notebook library at {self.library}: the gallery lists guides/ and cases/ "
                "from there (WorkbenchLab.library_dir names another folder)",
            )
        return {
            "roles": [{"id": key, "label": label} for key, label in ROLES.items()],
            "items": [item.to_json() for item in items],
            "datasets": [starter.to_json() for starter in self.starters.values()],
            "problems": problems,
        }

    def open(self, raw_id: object) -> str:
        """Copy the item ``raw_id`` names into the working folder; returns the copy's path
        relative to the working folder (what JupyterLab opens).

        Raises:
            GalleryError: 400 for an id of the wrong shape (absolute, ``..``, not a notebook),
                404 for one the gallery does not list, 409 when the target folder is a link or
                a file, 500 when the file system refuses the copy.
        """
        items, problems = scan(self.library)
        example = items[0].id if items else "guides/01-quickstart.ipynb"
        item_id = check_id(raw_id, example)
        starter = self.starters.get(item_id)
        if starter is not None:
            return self._write(starter.folder, starter.filename, starter.notebook)
        if not item_id.endswith(".ipynb"):
            raise GalleryError(
                f"{item_id!r} is not a notebook; expected a gallery item ending in .ipynb, "
                f"or one of the demo datasets: {', '.join(map(repr, self.starters))}"
            )
        by_id = {item.id: item for item in items}
        if item_id not in by_id:
            reason = next((p for p in problems if p.startswith(f"{item_id}:")), None)
            known = ", ".join(map(repr, [*by_id, *self.starters])) or "nothing yet"
            raise GalleryError(
                f"no gallery item {item_id!r}"
                + (f" ({reason})" if reason else "")
                + f"; the gallery has: {known}",
                status=404,
            )
        item = by_id[item_id]
        folder, filename = item.id.split("/", 1)
        return self._write(folder, filename, item.source.read_bytes)

    def _write(self, folder_name: str, filename: str, content: Callable[[], bytes]) -> str:
        folder = target_folder(self.work, folder_name)
        try:
            return f"{folder_name}/{write_new(folder, filename, content())}"
        except OSError as error:  # a full disk, a read-only folder, a name too long
            raise GalleryError(
                f"could not write a copy of {filename} into {folder_name}/ of the working "
                f"folder: {error.strerror or error}",
                status=500,
            ) from None
