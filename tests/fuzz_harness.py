"""What every fuzz test asserts of a public call on hostile input: it returns, or it raises a
``WorkbenchError`` (a ``WorkbenchWarning`` counts: a documented warning), within a time bound;
never another exception, a warning from a library underneath, a crash or a hang.

Calls that reach C++ or Rust parsers of file bytes (CSV, Parquet, bitmaps) run in a worker
process (:class:`Isolated`), so a segfault or an abort is reported as the failing example instead
of killing pytest, and a hang is cut off at the bound.
"""

from __future__ import annotations

import importlib
import multiprocessing
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

from hypothesis import event
from hypothesis.control import currently_in_test_context

import workbench as wb

TIME_BOUND = 5.0
"""Seconds one call may take: far above what a small input costs, even on a loaded machine."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "refused", "escaped", "crashed" or "hung"
    detail: str
    seconds: float
    value: Any = None


def attempt(call: Any, *args: Any) -> Outcome:
    """Run ``call(*args)`` and say how it ended (warnings are raised, so they are seen)."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = call(*args)
    except (wb.exceptions.WorkbenchError, wb.exceptions.WorkbenchWarning) as err:
        return Outcome("refused", f"{type(err).__name__}: {err}", time.perf_counter() - started)
    except BaseException as err:  # a Rust panic arrives as a BaseException
        if isinstance(err, KeyboardInterrupt):
            raise
        detail = "".join(traceback.format_exception(err))
        return Outcome("escaped", detail, time.perf_counter() - started)
    return Outcome("ok", "", time.perf_counter() - started, value)


def check(outcome: Outcome) -> Any:
    """Fail unless the call returned or refused the input properly; the value if it returned.
    The outcome is noted for ``--hypothesis-show-statistics``: a fuzz test whose examples are
    all refused explores little."""
    if currently_in_test_context():
        event(outcome.kind if outcome.kind != "refused" else outcome.detail.split(":")[0])
    assert outcome.kind in ("ok", "refused"), f"{outcome.kind}:\n{outcome.detail}"
    assert outcome.seconds < TIME_BOUND, f"took {outcome.seconds:.1f}s ({outcome.detail})"
    if outcome.kind == "refused":
        # A message names what is wrong: never empty, never a bare class name.
        assert len(outcome.detail.split(": ", 1)[-1]) > 10, outcome.detail
    return outcome.value


def _serve(connection: Any) -> None:
    """The worker's loop: run named targets until the parent closes the pipe."""
    while True:
        try:
            module, name, args = connection.recv()
        except EOFError:
            return
        target = getattr(importlib.import_module(module), name)
        outcome = attempt(target, *args)
        try:
            connection.send(outcome)
        except Exception:  # the value cannot be sent back: keep the verdict, drop the value
            connection.send(Outcome(outcome.kind, outcome.detail, outcome.seconds))


class Isolated:
    """A worker process that runs fuzz targets; restarted after a crash or a hang."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._connection = parent

    def run(self, module: str, name: str, *args: Any, wait: float = TIME_BOUND * 4) -> Outcome:
        """``module.name(*args)`` in the worker; ``wait`` seconds without an answer is a hang
        (longer than the bound: the first call also imports the package)."""
        started = time.perf_counter()
        self._connection.send((module, name, args))
        if self._connection.poll(wait):
            try:
                return self._connection.recv()
            except EOFError:
                pass
        elapsed = time.perf_counter() - started
        self._process.join(timeout=0.5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
            self._start()
            return Outcome("hung", f"{name}{args!r:.300} did not return", elapsed)
        code = self._process.exitcode
        self._start()
        return Outcome("crashed", f"{name}{args!r:.300} killed the process (exit {code})", elapsed)

    def close(self) -> None:
        self._connection.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
