"""Long native calls report progress and stop cleanly when the notebook interrupts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

import workbench as wb


@pytest.fixture(scope="module")
def big_table() -> pa.Table:
    """Large enough that encoding outlasts the 50 ms between progress reports on any machine."""
    n = 20_000_000
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "user_id": rng.integers(0, n // 10, n),
            "event": rng.choice(["a", "b", "c"], n),
            "time": rng.integers(0, 10**9, n),
        }
    )


def test_progress_callback_sees_the_work_advance(big_table) -> None:
    seen: list[tuple[int, int]] = []
    wb.EventLog(big_table, time_unit="s", progress=lambda d, t: seen.append((d, t)))
    assert seen, "a long load reports progress at least once"
    assert all(0 <= done <= total for done, total in seen)


def test_an_exception_in_progress_cancels_the_call(big_table) -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wb.EventLog(big_table, time_unit="s", progress=stop)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")
def test_sigint_interrupts_a_load_and_the_interpreter_lives_on(tmp_path) -> None:
    script = tmp_path / "interrupt.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import numpy as np, pyarrow as pa, workbench as wb
            n = 20_000_000
            rng = np.random.default_rng(0)
            table = pa.table({"user_id": rng.integers(0, n, n),
                              "event": rng.choice(["a", "b", "c"], n),
                              "time": rng.integers(0, 10**9, n)})
            told = False
            def progress(done, total):
                # Called only while the native encoder runs: the signal lands inside it.
                global told
                if not told:
                    told = True
                    print("working", flush=True)
            try:
                wb.EventLog(table, time_unit="s", progress=progress)
                print("finished", flush=True)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            log = wb.EventLog(table.slice(0, 1000), time_unit="s")
            print("alive", len(log), flush=True)
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "working"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert out.split() == ["interrupted", "alive", "1000"]
