"""Progress for long native calls: shown only in an interactive kernel, only once a call has
taken longer than a second, so quick calls and tests stay silent."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[int, int], Any]

_DELAY_SECONDS = 1.0


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()  # type: ignore[attr-defined]
    except Exception:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _Bar:
    """A progress bar that appears after a delay: an ipywidget in a kernel, else text on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.widget: Any = None
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.started < _DELAY_SECONDS or total <= 0:
            return
        fraction = min(done / total, 1.0)
        if not self.shown:
            self.shown = True
            try:
                import ipywidgets
                from IPython.display import display

                self.widget = ipywidgets.FloatProgress(min=0.0, max=1.0, description=self.label)
                display(self.widget)
            except ImportError:
                self.widget = None
        if self.widget is not None:
            self.widget.value = fraction
        else:
            sys.stderr.write(f"\r{self.label}: {fraction:6.1%}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.widget is not None:
            self.widget.close()
        elif self.shown:
            sys.stderr.write("\n")


def resolve(progress: bool | ProgressCallback | None, label: str) -> ProgressCallback | None:
    """``None``: automatic (bar in a notebook); ``False``: none; ``True``: always; or a callable."""
    if callable(progress):
        return progress
    if progress is False or (progress is None and not _in_kernel()):
        return None
    return _Bar(label)


def finish(callback: ProgressCallback | None) -> None:
    if isinstance(callback, _Bar):
        callback.close()
