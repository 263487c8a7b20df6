"""Plan and funnel files are untrusted input: an alias bomb, deep nesting, bytes that are not
UTF-8, NUL bytes or megabytes of garbage each get a PlanError (a FunnelDefinitionError for a
funnel file) naming the file, line and column, within a second or so, never a hang."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import workbench as wb
from workbench import exceptions as ex
from workbench.plan import PlanError, TrackingPlan

BOUND = 2.0  # seconds: generous for a loaded CI machine, far below what the attacks cost

# 500 bytes that expand to 9**7 (4.8 million) strings when aliases are followed.
ALIAS_BOMB = (
    "version: 1\n"
    "events:\n"
    "  a: &a [x, x, x, x, x, x, x, x, x]\n"
    "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "  g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
)


@contextmanager
def quickly() -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < BOUND


def _write(tmp_path: Path, data: bytes, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refused(path: Path) -> PlanError:
    with quickly(), pytest.raises(PlanError) as caught:
        TrackingPlan.load(path)
    err = caught.value
    assert err.file == str(path)
    assert str(err).startswith(f"{path}:{err.line}:{err.column}: ")
    return err


def test_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) <= 500
    err = _refused(_write(tmp_path, ALIAS_BOMB.encode()))
    assert (err.line, err.column) == (3, 6)
    assert "anchors and aliases (&name, *name) are not accepted; write the values out" in str(err)


def test_alias_bomb_in_plan_text_is_refused_with_its_position() -> None:
    with quickly(), pytest.raises(PlanError, match=r"^line 3, column 6: YAML anchors"):
        TrackingPlan.from_yaml(ALIAS_BOMB)


@pytest.mark.parametrize("opener", ["[", "{a: "], ids=["lists", "mappings"])
def test_deep_flow_nesting_is_refused(tmp_path: Path, opener: str) -> None:
    text = "events:\n  e: " + opener * 100_000
    err = _refused(_write(tmp_path, text.encode()))
    assert "nests deeper than 64 levels" in str(err)
    assert err.line == 2


def test_deep_block_nesting_is_refused_where_it_gets_too_deep(tmp_path: Path) -> None:
    text = "events:\n" + "".join(" " * depth + f"k{depth}:\n" for depth in range(1, 200))
    err = _refused(_write(tmp_path, text.encode()))
    assert "nests deeper than 64 levels" in str(err)
    assert err.line == 65  # where the 65th mapping opens


def test_bytes_that_are_not_utf8_are_refused_at_their_line_and_column(tmp_path: Path) -> None:
    data = "version: 1\nevents:\n  café_visit: {}\n".encode("latin-1")
    err = _refused(_write(tmp_path, data))
    assert (err.line, err.column) == (3, 6)
    assert "byte 0xe9 is not UTF-8 text; save the file as UTF-8" in str(err)


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, "events:\n  signup: {}\n".encode("utf-16")))
    assert "the text is UTF-16; save the file as UTF-8" in str(err)


def test_nul_byte_is_refused_at_its_position(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, b"version: 1\nevents:\n  sign\x00up: {}\n"))
    assert (err.line, err.column) == (3, 7)
    assert "NUL byte; is this a binary file?" in str(err)


def test_ten_megabytes_of_random_bytes_are_refused_at_once(tmp_path: Path) -> None:
    garbage = random.Random(9).randbytes(10 * 1024 * 1024)
    err = _refused(_write(tmp_path, garbage))
    assert "not UTF-8 text" in str(err) or "NUL byte" in str(err)
    assert err.line is not None and err.line < 100  # the first bad byte, not the end


def test_ten_megabytes_of_text_are_refused_where_reading_stops(tmp_path: Path) -> None:
    line = b"  event_" + b"x" * 60 + b": {}\n"
    data = b"events:\n" + line * (10 * 1024 * 1024 // len(line))
    err = _refused(_write(tmp_path, data))
    assert "larger than 2,097,152 bytes, the most a plan or funnel file may be" in str(err)
    assert err.line == data[: 2 * 1024 * 1024].count(b"\n") + 1  # where reading stopped


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-13-45", "cannot read the value '2026-13-45': month must be in 1..12"),
        ("9" * 5000, "cannot read the value '9999"),
        ("!!python/object:os.system x", "could not determine a constructor"),
    ],
    ids=["impossible date", "5000 digits", "python tag"],
)
def test_values_python_cannot_build_are_refused_at_their_position(
    tmp_path: Path, value: str, message: str
) -> None:
    text = f"events:\n  pay:\n    properties:\n      at: {{type: timestamp, min: {value}}}\n"
    err = _refused(_write(tmp_path, text.encode()))
    assert message in str(err)
    assert err.line == 4


def test_control_character_is_refused_at_its_position(tmp_path: Path) -> None:
    err = _refused(_write(tmp_path, b"events:\n  sign\x07up: {}\n"))
    assert (err.line, err.column) == (2, 7)
    assert "character #x0007 is not allowed" in str(err)


def test_missing_plan_file_and_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(ex.MissingFileError, match=r"no tracking plan at '.*nope\.yaml'") as err:
        TrackingPlan.load(tmp_path / "nope.yaml")
    assert isinstance(err.value, FileNotFoundError)  # code catching that keeps working
    with pytest.raises(ex.ArgumentError, match="is a directory; give the path of the tracking"):
        TrackingPlan.load(tmp_path)


def test_a_funnel_file_gets_the_same_protection(tmp_path: Path) -> None:
    cases = {
        "bomb.yaml": (ALIAS_BOMB.replace("version: 1\nevents:\n", "steps: [a]\nx:\n").encode()),
        "latin.yaml": "steps: [café]\n".encode("latin-1"),
        "nul.yaml": b"steps: [a\x00]\n",
        "huge.yaml": b"steps:\n" + b"  - a\n" * (3 * 1024 * 1024 // 6),
    }
    for name, data in cases.items():
        path = _write(tmp_path, data, name)
        with quickly(), pytest.raises(ex.FunnelDefinitionError) as caught:
            wb.Funnel.load(path)
        assert str(caught.value).startswith(f"{path}:"), name
        assert os.fspath(path) in str(caught.value)
    with pytest.raises(ex.MissingFileError, match="no funnel file at"):
        wb.Funnel.load(tmp_path / "nope.yaml")


def test_a_good_plan_still_loads_quickly(tmp_path: Path) -> None:
    events = "".join(
        f"  event_{i}:\n    properties:\n      p: {{type: integer}}\n" for i in range(1000)
    )
    path = _write(tmp_path, f"version: 1\nevents:\n{events}".encode())
    with quickly():
        assert len(TrackingPlan.load(path).event_names) == 1000
