"""Paths an analyst names: a missing file, or a directory where a file was expected, is refused
with the path and what was looked for.

>>> existing_path("no-such-plan.yaml", "tracking plan")
Traceback (most recent call last):
...
workbench.exceptions.MissingFileError: no tracking plan at 'no-such-plan.yaml'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.exceptions import ArgumentError, MissingFileError

__all__ = ["existing_path"]


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
