"""Reading YAML that came from outside (tracking plans, funnel files) without trusting it.

YAML aliases let 500 bytes expand into gigabytes, and deep nesting recurses without bound, so
both are refused while the text is still being scanned, before anything is built. A file is read
as bytes, at most :data:`MAX_BYTES` of them, and refused at the first byte that is not UTF-8 text
or is NUL. Values Python cannot build (a 5,000-digit number, the date 2026-13-45) are refused too.
Every refusal carries the 1-based line and column so the caller can name the file position.

>>> load("steps: [view, pay]")
{'steps': ['view', 'pay']}
>>> load('{"value": 1e-05, "text": "1e-05"}')
{'value': 1e-05, 'text': '1e-05'}
>>> try:
...     load("a: &x [1, 2]\\nb: *x")
... except UnsafeYamlError as err:
...     print(f"{err.line}:{err.column}: {err.message}")
1:4: YAML anchors and aliases (&name, *name) are not accepted; write the values out
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Dumper",
    "UnsafeYamlError",
    "Values",
    "compose",
    "dump",
    "load",
    "read_file",
]

MAX_BYTES = 2 * 1024 * 1024
"""Largest text accepted: a plan of a thousand events is a few hundred kilobytes."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""


_EXPONENT_NUMBER = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, reading every number with an exponent (``1e-05``, ``1.5e3``, as JSON and
    YAML 1.2 write them) as a number: YAML 1.1 reads them as text unless they have a point and a
    signed exponent, so a funnel saved as JSON would come back with ``1e-05`` as a string."""


class Dumper(yaml.SafeDumper):
    """The safe writer, quoting text the loader would read as a number: without the loader's
    exponent rule it writes the label ``0E0`` bare, and it comes back as the float 0.0."""


for _kind in (_Loader, Dumper):
    _kind.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_NUMBER, list("-+.0123456789"))
_BOMS = {b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}


class UnsafeYamlError(Exception):
    """Why the text was refused, and where (1-based, when known)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _position(mark: Any) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _text_position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """Line and column (in characters) of byte ``offset``."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def read_file(path: str | os.PathLike[str]) -> str:
    """The text of a file, or :class:`UnsafeYamlError` at the first byte that is not UTF-8
    text, a NUL byte, or the point where the file grows past :data:`MAX_BYTES`. Reads at most
    that many bytes, so a huge file costs no more than a big one. OS errors (a missing file)
    pass through for the caller to name."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    return decode(data)


def decode(data: bytes) -> str:
    """UTF-8 bytes as text (a BOM is dropped), or :class:`UnsafeYamlError` at the first problem.

    >>> decode(b"name: caf\\xe9\\n")
    Traceback (most recent call last):
    ...
    workbench._yaml.UnsafeYamlError: byte 0xe9 is not UTF-8 text; save the file as UTF-8
    """
    for bom, encoding in _BOMS.items():
        if data.startswith(bom):
            raise UnsafeYamlError(f"the text is {encoding}; save the file as UTF-8", 1, 1)
    head = data[:MAX_BYTES]
    nul = head.find(b"\x00")
    try:
        text = head[: nul if nul >= 0 else len(head)].decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # A character cut in two by the size limit is the limit's problem, not the text's.
        if not (len(data) > MAX_BYTES and err.start >= len(head) - 3):
            raise UnsafeYamlError(
                f"byte 0x{head[err.start]:02x} is not UTF-8 text; save the file as UTF-8",
                *_byte_position(head, err.start),
            ) from None
        text = head[: err.start].decode("utf-8-sig")
    if nul >= 0:
        raise UnsafeYamlError(
            "the text contains a NUL byte; is this a binary file?", *_byte_position(head, nul)
        )
    if len(data) > MAX_BYTES:
        raise UnsafeYamlError(
            f"the file is larger than {MAX_BYTES:,} bytes, the most a plan or funnel file may "
            "be; reading stopped here",
            *_text_position(text, len(text)),
        )
    return text


def compose(text: str | bytes) -> yaml.Node | None:
    """The document's node tree (None for an empty document), or :class:`UnsafeYamlError`;
    bytes are read as UTF-8 first (:func:`decode`)."""
    if isinstance(text, (bytes, bytearray)):
        text = decode(bytes(text))
    if not isinstance(text, str):
        raise UnsafeYamlError(f"YAML is text (or UTF-8 bytes); got {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise UnsafeYamlError(
            f"the text is {len(text):,} characters; at most {MAX_BYTES:,} are read",
            *_text_position(text, MAX_BYTES),
        )
    nul = text.find("\x00")
    if nul >= 0:
        raise UnsafeYamlError(
            "the text contains a NUL byte; is this a binary file?", *_text_position(text, nul)
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise UnsafeYamlError(
            f"character {text[err.start]!r} is no Unicode text (a lone surrogate, as bytes "
            "decoded with errors='surrogateescape' leave); decode the file as UTF-8",
            *_text_position(text, err.start),
        ) from None
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
        if "nesting depth" in str(exc.problem):  # LibYAML's own limit, met while scanning ahead
            raise UnsafeYamlError(
                f"the text nests deeper than {MAX_DEPTH} levels", *_position(mark)
            ) from None
        message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise UnsafeYamlError(f"not valid YAML: {message}", *_position(mark)) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character); ``position`` is its index.
        raise UnsafeYamlError(
            f"not valid YAML: character #x{exc.character:04x} is not allowed in YAML text",
            *_text_position(text, exc.position),
        ) from None
    except yaml.YAMLError as exc:
        raise UnsafeYamlError(f"not valid YAML: {exc}") from None


class Values:
    """Builds the Python values of the nodes of one composed document, refusing a value Python
    cannot build (a 5,000-digit number, the date 2026-13-45) at its position.

    >>> Values().of(compose("when: 2026-13-45"))
    Traceback (most recent call last):
    ...
    workbench._yaml.UnsafeYamlError: cannot read the value '2026-13-45': month must be in 1..12
    """

    def __init__(self) -> None:
        self._constructor = yaml.constructor.SafeConstructor()

    def of(self, node: yaml.Node) -> Any:
        """The value of ``node`` (and of everything under it)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
            raise UnsafeYamlError(f"not valid YAML: {message}", *_position(mark)) from None
        except (ValueError, OverflowError, TypeError) as exc:
            culprit = _first_unbuildable(node) or node
            shown = culprit.value if isinstance(culprit, yaml.ScalarNode) else culprit.tag
            shown = shown if len(shown) <= 40 else shown[:40] + "…"
            raise UnsafeYamlError(
                f"cannot read the value {shown!r}: {exc}", *_position(culprit.start_mark)
            ) from None


def _first_unbuildable(node: yaml.Node) -> yaml.ScalarNode | None:
    """The first scalar under ``node`` that Python cannot build (only looked for on failure)."""
    if isinstance(node, yaml.ScalarNode):
        try:
            yaml.constructor.SafeConstructor().construct_object(node)
        except (ValueError, OverflowError, TypeError):
            return node
        return None
    children = node.value if isinstance(node, yaml.SequenceNode) else []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    for child in children:
        found = _first_unbuildable(child)
        if found is not None:
            return found
    return None


def dump(data: object, *, dumper: type[Dumper] = Dumper, **options: Any) -> str:
    """``data`` as YAML text that :func:`load` reads back to equal data (``options`` go to
    :func:`yaml.dump`; ``dumper`` may be a subclass of :class:`Dumper` with more representers).

    >>> text = dump({"labels": {"view": "0E0", "pay": "yes"}, "score": 1e-05}, sort_keys=False)
    >>> print(text)
    labels:
      view: '0E0'
      pay: 'yes'
    score: 1.0e-05
    <BLANKLINE>
    >>> load(text)
    {'labels': {'view': '0E0', 'pay': 'yes'}, 'score': 1e-05}
    """
    return str(yaml.dump(data, Dumper=dumper, **options))


def load(text: str | bytes) -> object:
    """The document as plain Python data (mappings, lists, scalars), or :class:`UnsafeYamlError`."""
    node = compose(text)
    if node is None:
        return None
    return Values().of(node)
