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


GUIDES = {
    "01-quickstart.ipynb": "analyst",
    "02-first-funnel.ipynb": "analyst",
    "03-product-managers.ipynb": "product",
    "04-who-dropped-off.ipynb": "operations",
    "05-engineers-manual.ipynb": "engineer",
    "06-trust-your-data.ipynb": "engineer",
}


def test_notebooks_are_found() -> None:
    assert set(GUIDES) <= {p.name for p in NOTEBOOKS if p.parent.name == "guides"}


def test_every_role_has_its_guides_in_order() -> None:
    """The gallery groups guides by metadata.workbench.role; each reader finds theirs, numbered
    as the file names are."""
    seen: dict[str, list[int]] = {}
    for name, role in GUIDES.items():
        meta = nbformat.read(_guide(name), as_version=4).metadata["workbench"]
        assert (meta["kind"], meta["role"]) == ("guide", role), name
        seen.setdefault(role, []).append(meta["order"])
    assert set(seen) == {"analyst", "product", "operations", "engineer"}
    assert all(orders == list(range(1, len(orders) + 1)) for orders in seen.values()), seen


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
    text = _text(run(_guide("02-first-funnel.ipynb"))[0])
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
    text = _text(run(_guide("04-who-dropped-off.ipynb"))[0])
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
    text = _text(run(_guide("06-trust-your-data.ipynb"))[0])
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


# -- the role guides -------------------------------------------------------------------------


def test_quickstart_prints_the_api_numbers(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("01-quickstart.ipynb"))[0])
    log = demo.log()
    result = wb.Funnel(STEPS, window="1d").run(log)
    table = result.table
    first, last = table.iloc[0], table.iloc[-1]
    assert (
        f"{first.users:,} users browsed; {last.users:,} paid within a day "
        f"({last.conversion_from_first:.1%})." in text
    )
    worst = result.worst_step()
    dropped = len(result.dropped_after(worst))
    assert dropped == table.dropped.iloc[worst - 1]
    assert (
        f"The worst step is '{result.labels[worst - 1]}': {dropped:,} users stopped there "
        f"(the table's dropped: {dropped:,})." in text
    )
    assert f"exported {dropped:,} users to CSV and {dropped:,} to Parquet" in text
    # The text says nothing sets them apart: the top of their profile stays close to 100.
    tags = wb.TagStore.from_table(
        log,
        demo.users,
        key="user_id",
        categorical=["age_band", "gender", "membership", "city_tier"],
    )
    top = wb.profile(result.dropped_after(worst), tags).iloc[0]
    assert top.tgi < 125
    assert f"the most over-represented tag: {top.tag}, TGI {top.tgi:.0f}" in text


def test_product_guide_prints_the_api_numbers(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("03-product-managers.ipynb"))[0])
    assert "the code rebuilds the funnel on screen: True" in text
    log = demo.log()
    result = wb.Funnel(STEPS, window="1d").run(log)

    def line(a: str, b: str, row: pd.Series) -> str:
        return (
            f"{a} vs {b} at '{row.label}': {row.difference:+.1%} "
            f"(95% interval {row.low:+.1%} to {row.high:+.1%}), significant: {row.significant}"
        )

    # What the text says of them: gold beats silver for sure, women and men cannot be told apart.
    gold = result.compare_groups("membership", "gold", "silver", users=demo.users).iloc[-1]
    assert gold.significant and gold.low > 0.05
    gender = result.compare_groups("gender", "female", "male", users=demo.users).iloc[-1]
    assert not gender.significant and gender.low < 0 < gender.high
    # The builder labels the last step with the plan's display name.
    gold["label"] = gender["label"] = demo.plan().display_names("en")["pay_success"]
    assert line("gold", "silver", gold) in text
    assert line("female", "male", gender) in text

    pay = wb.Funnel(["place_order", "pay_success"], window="1h").run(log)
    v = pay.compare_groups("app_version", "4.8.0", "4.7.0").iloc[0]
    assert v.high < -0.3, "the planted Android 4.8.0 payment bug is no longer visible"
    assert (
        f"Android 4.8.0: {v.conversion_a:.1%} of {v.entrants_a:,} ordering users paid; "
        f"4.7.0: {v.conversion_b:.1%} of {v.entrants_b:,}; "
        f"difference {v.difference:+.1%} ({v.low:+.1%} to {v.high:+.1%}), p = {v.p_value:.1g}"
    ) in text
    p = pay.compare_groups("platform", "ios", "web").iloc[0]
    assert p.significant and p.high < 0.05, "the text calls iOS vs web significant but small"
    assert f"iOS vs web: {p.difference:+.1%} ({p.low:+.1%} to {p.high:+.1%})" in text

    weekly = result.trends("week")
    paid = weekly[weekly["step"] == len(STEPS)].set_index("period_start")["conversion_from_first"]
    best, worst = paid.idxmax(), paid.idxmin()
    assert (
        best < pd.Timestamp("2026-09-14", tz="UTC") < worst < pd.Timestamp("2026-10-05", tz="UTC")
    )
    assert (
        f"best week: {best:%d %b}, {paid[best]:.1%}; worst: {worst:%d %b}, {paid[worst]:.1%}"
        in text
    )
    row = result.table.iloc[-1]
    assert row.p90_time_from_first < pd.Timedelta("30m"), "the text says people buy in minutes"
    assert (
        f"time from browse to pay: median {row.median_time_from_first.round('1s')}, "
        f"90th percentile {row.p90_time_from_first.round('1s')}" in text
    )


def test_operations_guide_prints_the_builder_and_exports(
    run: Callable[[Path], Run], demo: wb.datasets.EcommerceDemo
) -> None:
    text = _text(run(_guide("04-who-dropped-off.ipynb"))[0])
    assert "the builder and tags.select agree: True" in text
    parquet_rows = int(text.split("Parquet: ")[1].split(" rows")[0].replace(",", ""))
    assert f"CSV: {parquet_rows:,} rows" in text
    assert f"for {parquet_rows:,} users;" in text


def test_engineers_manual_loads_every_source_alike(run: Callable[[Path], Run]) -> None:
    text = _text(run(_guide("05-engineers-manual.ipynb"))[0])
    for source in ("pyarrow", "pandas", "polars", "parquet", "duckdb"):
        assert f"{source:8} 49,369 events, 4,102 users; same funnel as pyarrow: True" in text
    assert "The values fit as milliseconds: pass time_unit='ms'" in text
    assert "the right unit: same funnel: True" in text
    assert "loads back equal: True" in text
    assert "funnels/checkout.yaml: funnel: unknown key 'windw'; did you mean 'window'?" in text
    assert "plan check passes: False" in text


def test_engineers_manual_leaves_one_scale_table_for_the_benchmarks() -> None:
    """The lead pastes the benchmark rows into the one cell tagged "scale-table"."""
    nb = nbformat.read(_guide("05-engineers-manual.ipynb"), as_version=4)
    tagged = [c for c in nb.cells if "scale-table" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "markdown"
    source = tagged[0].source
    assert "### Measured on the project's 2-core machine" in source
    assert "| events | load + 5-step funnel | peak memory | chdb peak memory |" in source


def test_scale_out_is_only_run_where_it_exists() -> None:
    """Spark and the ClickHouse SQL arrive from another branch: until they import, the manual
    describes them in markdown and no code cell calls them."""
    import importlib.util

    nb = nbformat.read(_guide("05-engineers-manual.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for module in ("workbench.spark", "workbench.sql"):
        if importlib.util.find_spec(module) is None:
            assert module not in code, f"a code cell uses {module}, which is not installed"


def _shown(nb: nbformat.NotebookNode, mime: str, prefix: str) -> int:
    """How many outputs of the executed notebook are `mime` with a text/plain starting `prefix`."""
    return sum(
        1
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if mime in output.get("data", {}) and output.data.get("text/plain", "").startswith(prefix)
    )


WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("name", list(GUIDES))
def test_guide_shows_its_charts_through_the_offline_renderer(
    name: str, run: Callable[[Path], Run]
) -> None:
    """Every guide draws charts, and each reaches the screen as vl-convert's offline chart
    widget (no CDN script), which is what JupyterLab can show with no internet."""
    nb = run(_guide(name))[0]
    calls = sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.splitlines()[-1].startswith("wb.charts.")
    )
    assert calls >= 1, f"{name} shows no chart"
    assert _shown(nb, WIDGET, "<altair.jupyter.jupyter_chart.JupyterChart") == calls
    assert "cdn.jsdelivr" not in json.dumps([c.get("outputs", []) for c in nb.cells])


@pytest.mark.parametrize(
    ("name", "builder"),
    [
        ("01-quickstart.ipynb", "FunnelBuilder("),
        ("03-product-managers.ipynb", "FunnelBuilder("),
        ("04-who-dropped-off.ipynb", "AudienceBuilder("),
    ],
)
def test_guide_displays_its_builder_before_driving_it(
    name: str, builder: str, run: Callable[[Path], Run]
) -> None:
    assert _shown(run(_guide(name))[0], WIDGET, builder) == 1
