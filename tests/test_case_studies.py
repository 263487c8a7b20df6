"""The case studies in notebooks/cases/: one per planted story, each ending with exercises that the
package checks. With the right answers in place of ``...`` every check passes; with wrong ones every
check shows its hint; and neither a case's text nor what it prints gives an answer away.

Each case is executed once (nbclient, a kernel of this interpreter) with every exercise cell run
twice: first with a wrong answer, then with the right one. The answers come from
tests/exercise_answers.py, computed from the dataset's own truth.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from exercise_answers import as_source, reveals, right_answers, spellings, wrong_answers
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

import workbench as wb
from workbench.datasets.exercises import EXERCISES, JOURNEY
from workbench.lab.library import ROLES, scan

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "notebooks" / "cases").glob("*.ipynb"))
#: An exercise cell as shipped: the student replaces the ``...``.
CHECK = re.compile(r'ex\.check\("(?P<key>[a-z_.]+)", \.\.\.\)')
STORIES = ("payment", "campaign", "tracking")


def _id(path: Path) -> str:
    return path.stem


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _keys(nb: nbformat.NotebookNode) -> list[str]:
    return [m["key"] for cell in nb.cells for m in CHECK.finditer(cell.source)]


@pytest.fixture(scope="module")
def ex() -> wb.datasets.Exercises:
    return wb.datasets.exercises(wb.datasets.ecommerce())


@pytest.fixture(scope="module")
def answer_forms(ex: wb.datasets.Exercises) -> set[str]:
    """Every way of writing any exercise's answer (the journey's event names are not answers)."""
    return set().union(*(spellings(e.truth(ex), allowed=JOURNEY) for e in EXERCISES.values()))


# -- what is shipped ---------------------------------------------------------------------------


def test_each_story_has_one_case_that_asks_all_its_exercises() -> None:
    assert len(CASES) == len(STORIES)
    asked = {path.name: _keys(_read(path)) for path in CASES}
    for story in STORIES:
        wanted = sorted(k for k in EXERCISES if k.startswith(f"{story}."))
        holders = [name for name, keys in asked.items() if any(k in wanted for k in keys)]
        assert len(holders) == 1, f"{story}: asked in {holders}"
        assert sorted(asked[holders[0]]) == wanted, f"{holders[0]} does not ask every {story}.*"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_case_ends_with_its_exercises_and_no_check_is_pre_answered(path: Path) -> None:
    nb = _read(path)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    calls = sum(source.count("ex.check(") for source in code)
    assert calls == len(_keys(nb)), "every ex.check in a case must wait for the student (...)"
    first_exercise = next(i for i, source in enumerate(code) if CHECK.search(source))
    assert all(CHECK.search(source) for source in code[first_exercise:]), "exercises come last"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_case_is_listed_in_the_gallery_with_its_role(path: Path) -> None:
    items, problems = scan(ROOT / "notebooks")
    assert not [p for p in problems if p.startswith("cases/")]
    item = next(i for i in items if i.id == f"cases/{path.name}")
    assert item.kind == "case" and item.role in ROLES and item.title and item.summary


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_source_never_gives_an_answer(path: Path, answer_forms: set[str]) -> None:
    # The answers planted in the demo are all here, so a blind spot would show.
    assert {"android", "4.8.0", "influencer_oct", "ios", "5.6.0", "product_id"} <= answer_forms
    text = "\n".join(cell.source for cell in _read(path).cells)
    assert reveals(text, answer_forms) == []


# -- running them ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A `python3` kernel spec that starts this interpreter (see tests/test_notebooks.py)."""
    spec_dir = tmp_path_factory.mktemp("kernels") / "python3"
    spec_dir.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Python 3 (test)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])


def _answered(nb: nbformat.NotebookNode, right: dict, wrong: dict, folder: Path):
    """The notebook with each exercise cell run twice: a wrong answer, then the right one."""
    cells = []
    for cell in nb.cells:
        match = CHECK.search(cell.source) if cell.cell_type == "code" else None
        if match is None:
            cells.append(cell)
            continue
        key = match["key"]
        for answers in (wrong, right):
            cells.append(
                nbformat.v4.new_code_cell(
                    cell.source.replace(
                        match[0], f'ex.check("{key}", {as_source(answers[key], folder)})'
                    )
                )
            )
    nb = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
    return nb


@pytest.fixture(scope="module")
def answered_run(
    ex: wb.datasets.Exercises,
    kernel_specs: KernelSpecManager,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[Path], list[str]]:
    """Run a case with the answers filled in; returns each cell's printed text."""
    done: dict[Path, list[str]] = {}
    right, wrong = right_answers(ex), wrong_answers(ex)

    def execute(path: Path) -> list[str]:
        if path not in done:
            exports = tmp_path_factory.mktemp(f"{path.stem}-answers")
            nb = _answered(_read(path), right, wrong, exports)
            workdir = tmp_path_factory.mktemp(path.stem)
            NotebookClient(
                nb,
                km=AsyncKernelManager(kernel_name="python3", kernel_spec_manager=kernel_specs),
                kernel_name="python3",
                timeout=120,
                resources={"metadata": {"path": str(workdir)}},
            ).execute(cleanup_kc=True)
            done[path] = [
                "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream")
                for cell in nb.cells
            ]
        return done[path]

    return execute


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_right_answers_pass_every_check_and_wrong_ones_show_the_hint(
    path: Path, answered_run: Callable[[Path], list[str]]
) -> None:
    printed = answered_run(path)
    verdicts = [line for text in printed for line in text.splitlines() if line[:1] in "✓✗○"]
    keys = _keys(_read(path))
    expected = []
    for key in keys:
        expected += [f"✗ {key}: not this one. {EXERCISES[key].hint}", f"✓ {key}: right."]
    assert verdicts == expected


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_what_a_case_prints_never_gives_an_answer(
    path: Path, answered_run: Callable[[Path], list[str]], answer_forms: set[str]
) -> None:
    # Tables and charts are the evidence the student reads; sentences the notebook prints are
    # its own words, and they must leave the conclusion to the student.
    printed = "\n".join(answered_run(path))
    assert reveals(printed, answer_forms) == []


def test_readme_lists_the_cases_without_their_answers(answer_forms: set[str]) -> None:
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Case studies", 1)[1].split("\n## ", 1)[0]
    for path in CASES:
        assert f"cases/{path.name}" in section
    assert reveals(section, answer_forms) == []
