"""Funnel Workbench in JupyterLab: the server side of the gallery.

The JupyterLab extension (``extensions/`` in the repository, shipped prebuilt in the wheel) shows
the guides, case studies and demo datasets; this server extension lists them and copies the one
a user opens into the working folder (the server's root directory), so what ships is never
edited. ``workbench.lab.library`` holds the logic, ``workbench.lab.handlers`` the HTTP routes.

The wheel enables it with ``etc/jupyter/jupyter_server_config.d/funnel_workbench.json``. The
notebooks it lists are the wheel's ``share/jupyter/funnel-workbench/notebooks`` (found on the
Jupyter data path), or any folder of the same layout::

    jupyter lab --WorkbenchLab.library_dir=path/to/notebooks
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_path
from traitlets import Unicode
from traitlets.config import Configurable

from workbench.lab.library import Gallery

__all__ = ["Gallery", "WorkbenchLab", "default_library"]


def default_library() -> Path:
    """The notebook library the installed package ships: the first on the Jupyter data path (in
    a virtual environment, the environment's own comes first), else where the wheel puts it."""
    for folder in jupyter_path("funnel-workbench", "notebooks"):
        if Path(folder).is_dir():
            return Path(folder)
    return Path(sys.prefix, "share", "jupyter", "funnel-workbench", "notebooks")


class WorkbenchLab(Configurable):
    """Settings of the gallery's server extension."""

    library_dir = Unicode(
        "",
        config=True,
        help="Folder with guides/ and cases/ to list in the gallery "
        "(default: the notebooks shipped with funnel-workbench).",
    )


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from workbench.lab.handlers import CopiesHandler, ListingHandler

    settings = WorkbenchLab(config=serverapp.config)
    library = Path(settings.library_dir) if settings.library_dir else default_library()
    if not library.is_dir():
        serverapp.log.warning(
            "workbench: no notebook library at %s; the gallery lists only the demo datasets",
            library,
        )
    gallery = Gallery(library, Path(serverapp.root_dir))
    base = url_path_join(serverapp.web_app.settings["base_url"], "workbench")
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "gallery"), ListingHandler, {"gallery": gallery}),
            (url_path_join(base, "copies"), CopiesHandler, {"gallery": gallery}),
        ],
    )
    serverapp.log.info("workbench: gallery of %s, copies into %s", library, serverapp.root_dir)
