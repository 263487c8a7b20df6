"""Paths an analyst names: a missing file, or a directory where a file was expected, is refused
with the path and what was looked for; so is a file that cannot be written.

>>> existing_path("no-such-plan.yaml", "tracking plan")
Traceback (most recent call last):
...
workbench.exceptions.MissingFileError: no tracking plan at 'no-such-plan.yaml'
>>> with writing("out/a.csv", "audience") as path:
...     path.write_text("user_id")
Traceback (most recent call last):
...
workbench.exceptions.UnwritableFileError: cannot write the audience to 'out/a.csv': no folder 'out'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.exceptions import ArgumentError, MissingFileError, UnwritableFileError

__all__ = ["existing_path", "writing"]


def existing_path(path: Any, what: str, *, directory: bool = False) -> Path:
    """``path`` as a Path once it is known to exist (and to be a file unless ``directory``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"the path of the {what} is text or a Path; got {path!r}")
    found = Path(path)
    if not found.exists():
        raise MissingFileError(f"no {what} at {str(found)!r}")
    if found.is_dir() and not directory:
        raise ArgumentError(f"{str(found)!r} is a directory; give the path of the {what} file")
    return found


@contextmanager
def writing(path: Any, what: str) -> Iterator[Path]:
    """``path`` as a Path to write the ``what`` to; the system's refusal while writing (no such
    folder, a folder in the way, permissions, a full disk) comes out as an
    :class:`UnwritableFileError` naming the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"the path to write the {what} to is text or a Path; got {path!r}")
    target = Path(path)
    refused = f"cannot write the {what} to {str(target)!r}"
    if target.is_dir():
        raise UnwritableFileError(f"{refused}: it is a folder; give a file name inside it")
    folder = target.parent
    if not folder.exists():
        raise UnwritableFileError(f"{refused}: no folder {str(folder)!r}")
    if not folder.is_dir():
        raise UnwritableFileError(f"{refused}: {str(folder)!r} is a file, not a folder")
    try:
        yield target
    except OSError as exc:
        # pyarrow's and Python's writers raise OSError subclasses with their own wording.
        reason = exc.strerror or str(exc)
        raise UnwritableFileError(f"{refused}: {reason}") from exc
