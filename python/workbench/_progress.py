"""Progress for long native calls: shown only in an interactive kernel, only once a call has
taken longer than a second, so quick calls and tests stay silent.

In a notebook the bar is an HTML ``<progress>`` element updated in place through IPython's
display handle (no widget library needed); elsewhere it is a line of text on stderr.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any

from workbench.exceptions import ArgumentError

ProgressCallback = Callable[[int, int], Any]

_DELAY_SECONDS = 1.0
_REFRESH_SECONDS = 0.25


def in_kernel() -> bool:
    """Whether this runs in an IPython kernel (a notebook), not a script or a test."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _Bar:
    """A progress bar that appears after a delay: HTML in a kernel, else text on stderr."""

    def __init__(self, label: str, in_kernel: bool) -> None:
        self.label = label
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.handle: Any = None
        self.in_kernel = in_kernel
        self.shown = False

    def _html(self, fraction: float) -> Any:
        from IPython.display import HTML

        return HTML(
            f"<label>{html.escape(self.label)} "
            f"<progress max='1' value='{fraction:.3f}'></progress> {fraction:.0%}</label>"
        )

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < _DELAY_SECONDS or total <= 0:
            return
        if self.shown and now - self.shown_at < _REFRESH_SECONDS:
            return
        fraction = min(done / total, 1.0)
        self.shown_at = now
        if self.in_kernel:
            if not self.shown:
                from IPython.display import display

                self.handle = display(self._html(fraction), display_id=True)
            elif self.handle is not None:
                self.handle.update(self._html(fraction))
        else:
            sys.stderr.write(f"\r{self.label}: {fraction:6.1%}")
            sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if not self.shown:
            return
        if self.handle is not None:
            self.handle.update(self._html(1.0))
        elif not self.in_kernel:
            sys.stderr.write("\n")


def resolve(progress: bool | ProgressCallback | None, label: str) -> ProgressCallback | None:
    """``None``: automatic (a bar in a notebook); ``False``: none; ``True``: always; or a
    callable taking ``(done, total)``.

    >>> resolve(False, "Loading") is None
    True
    """
    if callable(progress):
        return progress
    if progress is not None and not isinstance(progress, bool):
        raise ArgumentError(
            "progress= is True, False, None (automatic) or a callable taking (done, total); "
            f"got {progress!r}"
        )
    kernel = in_kernel()
    if progress is False or (progress is None and not kernel):
        return None
    return _Bar(label, kernel)


def finish(callback: ProgressCallback | None) -> None:
    """Close a bar made by :func:`resolve` (other callbacks are left alone)."""
    if isinstance(callback, _Bar):
        callback.close()
