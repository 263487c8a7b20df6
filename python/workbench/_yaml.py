"""Reading YAML that came from outside (tracking plans, funnel files) without trusting it.

YAML aliases let 500 bytes expand into gigabytes, and deep nesting recurses without bound, so
both are refused while the text is still being scanned, before anything is built. Errors carry
the 1-based line and column so the caller can name the file position.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "UnsafeYamlError", "compose"]

MAX_BYTES = 2 * 1024 * 1024
"""Largest text accepted: a plan of a thousand events is a few hundred kilobytes."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnsafeYamlError(Exception):
    """Why the text was refused, and where (1-based, when known)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _position(mark: Any) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def compose(text: str) -> yaml.Node | None:
    """The document's node tree (None for an empty document), or :class:`UnsafeYamlError`."""
    if len(text) > MAX_BYTES:
        raise UnsafeYamlError(
            f"the text is {len(text):,} characters; at most {MAX_BYTES:,} are read"
        )
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise UnsafeYamlError("the text contains a NUL byte; is this a binary file?", line, column)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise UnsafeYamlError(
                    "YAML anchors and aliases (&name, *name) are not accepted; write the "
                    "values out",
                    *_position(event.start_mark),
                )
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise UnsafeYamlError(
                        f"the text nests deeper than {MAX_DEPTH} levels",
                        *_position(event.start_mark),
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        loader = _Loader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise UnsafeYamlError(f"not valid YAML: {message}", *_position(mark)) from None
    except yaml.YAMLError as exc:
        raise UnsafeYamlError(f"not valid YAML: {exc}") from None


def load(text: str) -> object:
    """The document as plain Python data (mappings, lists, scalars), or :class:`UnsafeYamlError`."""
    node = compose(text)
    if node is None:
        return None
    return _Loader(text).construct_document(node)
