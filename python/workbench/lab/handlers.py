"""The gallery's REST API in the Jupyter server, under ``<base_url>/workbench/``.

- ``GET gallery``: roles, items (guides and cases from their ``metadata.workbench``), demo
  datasets, and the problems that keep a shipped notebook out of the gallery.
- ``POST copies`` with ``{"id": "<item id>"}``: copy the item into the working folder; answers
  ``201 {"id": ..., "path": "<copy's path in the working folder>"}``.

A bad request gets a 4xx whose JSON ``message`` names the value and what was expected (the
front end shows it as is); a traceback never reaches the browser. Both routes need an
authenticated user allowed to read (``GET``) or write (``POST``) contents.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from workbench.exceptions import GalleryError
from workbench.lab.library import Gallery


class _GalleryHandler(APIHandler):
    # Listing and copying notebooks is reading and writing contents, for the authorizer.
    auth_resource = "contents"

    def initialize(self, gallery: Gallery) -> None:
        self.gallery = gallery

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class ListingHandler(_GalleryHandler):
    """``GET /workbench/gallery``."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.reply(200, self.gallery.listing())


class CopiesHandler(_GalleryHandler):
    """``POST /workbench/copies``."""

    @web.authenticated
    @authorized
    def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or "id" not in body:
            raise web.HTTPError(
                400,
                'expected a JSON body {"id": "<gallery item id>"}, with an id that '
                "GET /workbench/gallery lists",
            )
        try:
            path = self.gallery.open(body["id"])
        except GalleryError as error:
            raise web.HTTPError(error.status, str(error)) from None
        self.log.info("workbench: copied %s to %s", body["id"], path)
        self.reply(201, {"id": body["id"], "path": path})
