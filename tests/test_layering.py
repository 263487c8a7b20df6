"""The layering the import contracts (pyproject.toml, `make lint`) cannot see: who imports the
native module, that no module reaches into another's private names, and what `import workbench`
loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workbench as wb

PACKAGE = Path(wb.__file__).parent
# The modules that talk to the engine; everything else goes through their public names.
ENGINE_FACING = {
    "workbench",
    "workbench.exceptions",
    "workbench.log",
    "workbench.funnel.engine",
    "workbench.funnel.outcomes",
    "workbench.audience.set",
    "workbench.audience.tags",
    # The tracking plan's native checks (funnel_core/src/plan), behind its log reader.
    "workbench.plan._logdata",
    # The Spark engine: its tasks cap the engine's threads, its driver numbers users natively.
    "workbench.spark.kernel",
    "workbench.spark.log",
}
# Package-internal foundation modules: private to the package, imported by name.
INTERNAL_MODULES = {
    "_arrow",
    "_core",
    "_display",
    "_durations",
    "_files",
    "_names",
    "_progress",
    "_yaml",
    "_logdata",
}


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return out


def imports(tree: ast.Module) -> list[tuple[str, str, int]]:
    """(module, imported name, line) for every import, TYPE_CHECKING ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
    return found


def test_only_engine_facing_modules_import_the_native_module() -> None:
    offenders = [
        f"{name}:{line}"
        for name, tree in modules().items()
        for module, imported, line in imports(tree)
        if (module == "workbench._core" or (module == "workbench" and imported == "_core"))
        and name not in ENGINE_FACING
    ]
    assert offenders == []


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = [
        f"{name}:{line} imports {module}.{imported}"
        for name, tree in modules().items()
        for module, imported, line in imports(tree)
        if module.startswith("workbench")
        and imported.startswith("_")
        and imported not in INTERNAL_MODULES
    ]
    assert offenders == []


def test_no_module_reads_another_objects_private_attributes() -> None:
    offenders = []
    for name, tree in modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Name) and owner.id == "wb" and attr == "_core":
                continue  # the docstring namespace's version check reads the native module
            offenders.append(f"{name}:{node.lineno} .{attr}")
    assert offenders == []


def test_importing_workbench_loads_no_chart_widget_or_spark_library() -> None:
    heavy = ["altair", "anywidget", "ipywidgets", "pyspark", "vl_convert"]
    code = f"import sys, workbench; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_flag_bits_and_limits_come_from_the_engine() -> None:
    from workbench.funnel import MAX_STEPS, outcomes

    assert (outcomes.IN_PROGRESS, outcomes.EXCLUDED, outcomes.NO_ROW) == (
        wb._core.IN_PROGRESS,
        wb._core.EXCLUDED,
        wb._core.NO_ROW,
    )
    assert wb._core.MAX_STEPS == MAX_STEPS == 32
