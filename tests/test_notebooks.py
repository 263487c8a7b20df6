"""The notebooks under notebooks/ run top to bottom in a fresh kernel, are stored without outputs,
and print numbers that agree with the API they teach.

Each notebook is executed once per test session (with nbclient, in a kernel started from this very
interpreter) and the executed copy is shared by the tests that read its outputs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import workbench as wb

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
KERNEL = "python3"
CELL_TIMEOUT_S = 120
BUDGET_S = 60  # what notebooks/README.md promises: each guide runs in under a minute

Run = tuple[nbformat.NotebookNode, float, Path]


def _id(path: Path) -> str:
    return str(path.relative_to(NOTEBOOK_DIR))


def _guide(name: str) -> Path:
    path = NOTEBOOK_DIR / "guides" / name
    assert path in NOTEBOOKS, f"{name} is missing from notebooks/guides"
    return path


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A `python3` kernel spec that starts THIS interpreter, whatever else is installed.

    The venv's ipykernel registers `python3` with argv[0] "python", which jupyter_client maps to
    sys.executable; but a `python3` spec in the user's Jupyter directory would win over it.
    A spec of our own in a temporary directory removes the doubt.
    """
    spec_dir = tmp_path_factory.mktemp("kernels") / KERNEL
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test interpreter)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])


def _execute(
    nb: nbformat.NotebookNode, specs: KernelSpecManager, workdir: Path
) -> nbformat.NotebookNode:
    client = NotebookClient(
        nb,
        km=AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs),
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(workdir)}},
    )
    # cleanup_kc: stop the kernel and close its channels (nbclient keeps them open when it is
    # handed a kernel manager), so no process or zmq socket outlives the test.
    return client.execute(cleanup_kc=True)  # raises CellExecutionError at the first failing cell


@pytest.fixture(scope="session")
def run(
    kernel_specs: KernelSpecManager, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path], Run]:
    """Execute a notebook (once per session) in an empty working directory; returns the executed
    notebook, the seconds it took and the working directory."""
    done: dict[Path, Run] = {}

    def execute(path: Path) -> Run:
        if path not in done:
            nb = nbformat.read(path, as_version=4)
            workdir = tmp_path_factory.mktemp(path.stem)
            start = time.perf_counter()
            _execute(nb, kernel_specs, workdir)
            done[path] = (nb, time.perf_counter() - start, workdir)
        return done[path]

    return execute


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text, in order."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="session")
def demo() -> wb.datasets.EcommerceDemo:
    return wb.datasets.ecommerce()


# -- the kernel and the files ------------------------------------------------------------------


def test_notebooks_are_found() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "01-first-funnel.ipynb",
        "02-who-dropped-off.ipynb",
        "03-trust-your-data.ipynb",
    } <= names


def test_kernel_runs_this_interpreter_and_this_workbench(
    kernel_specs: KernelSpecManager, tmp_path: Path
) -> None:
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import sys, workbench\nprint(sys.executable)\nprint(workbench.__file__)"
            )
        ]
    )
    _execute(probe, kernel_specs, tmp_path)
    executable, package = probe.cells[0].outputs[0].text.split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(package).resolve() == Path(wb.__file__).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {number} has stored outputs: clear them before saving"
            assert cell.execution_count is None, f"cell {number} has an execution count"


def test_readme_lists_every_guide() -> None:
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert _id(path) in readme, f"notebooks/README.md does not mention {_id(path)}"


# -- running them ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_runs_clean_and_in_budget(path: Path, run: Callable[[Path], Run]) -> None:
    nb, seconds, workdir = run(path)
    for number, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"cell {number}: {output.ename}"
            # A guide that shows a warning teaches people to ignore warnings.
            if output.output_type == "stream":
                assert output.name == "stdout", f"cell {number} wrote to stderr: {output.text}"
    assert seconds < BUDGET_S, f"{_id(path)} took {seconds:.1f} s (budget {BUDGET_S} s)"
    assert not any(workdir.iterdir()), f"{_id(path)} left files behind: {list(workdir.iterdir())}"


# -- the numbers the guides print agree with the API -------------------------------------------

STEPS = ["browse", "product_detail", "add_to_cart", "place_order", "pay_success"]


def test_first_funnel_prints_the_api_numbers(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("01-first-funnel.ipynb"))[0])
    table = wb.Funnel(STEPS, window="1d").run(demo.log()).table
    last = table.iloc[-1]
    assert f"{last.users:,} reached 'pay_success': {last.conversion_from_previous:.1%}" in text

    # The Android story, computed the way the guide teaches: two logs, split at the release date.
    events = demo.events
    release = pd.Timestamp("2026-10-01", tz="UTC")
    is_before = pc.less(events["time"], pa.scalar(release, type=events.schema.field("time").type))
    pay = wb.Funnel(["place_order", "pay_success"], window="1h")

    def android_paid(period: pa.Table) -> float:
        t = pay.run(wb.EventLog(period)).breakdown("platform")
        return float(
            t[(t["platform"] == "android") & (t["step"] == 2)].iloc[0].conversion_from_previous
        )

    before = android_paid(events.filter(is_before))
    after = android_paid(events.filter(pc.invert(is_before)))
    assert before > 0.9 and after < 0.7, "the planted Android payment bug is no longer visible"
    assert (
        f"Android: {before:.1%} of users who placed an order paid before 1 October, "
        f"{after:.1%} after." in text
    )


def test_who_dropped_off_prints_the_api_numbers(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("02-who-dropped-off.ipynb"))[0])
    by_campaign = wb.Funnel(STEPS, window="1d").run(demo.log()).breakdown("campaign")
    influencer = by_campaign[by_campaign["campaign"] == "influencer_oct"].set_index("step")["users"]
    entered, paid = int(influencer[1]), int(influencer[len(STEPS)])
    assert entered > 3_000 and paid <= 5, "the planted campaign story is no longer visible"
    assert f"influencer_oct brought {entered:,} users into the funnel" in text
    assert f"; {paid:,} of them paid." in text
    assert "the expression and the Python operators agree: True" in text
    assert "read back equal: True" in text


def test_trust_your_data_prints_the_api_numbers(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("03-trust-your-data.ipynb"))[0])
    report = demo.plan().validate(demo.log())
    assert len(report.table) == 1, "the shipped plan should find exactly the planted tracking bug"
    finding = report.table.iloc[0]
    assert (finding.event, finding.property) == ("add_to_cart", "product_id")
    assert (
        f"add_to_cart.product_id: missing_required_property on {finding.rows:,} rows "
        f"({finding.share:.1%} of add_to_cart)" in text
    )
    assert "Never seen: apply_coupon" in text
    assert "loads back identical: True" in text
