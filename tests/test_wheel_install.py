"""`pip install` of the project's wheel is all a user needs for the gallery in JupyterLab.

A real `maturin build` (reusing the release build `make build` made) and a real `pip install`
into a scratch virtual environment: the wheel must carry the prebuilt extension, the notebook
library and the server extension's config, and JupyterLab in that environment must report both
extensions enabled and OK and find the shipped notebooks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MATURIN = Path(sys.executable).with_name("maturin")
DATA = "funnel_workbench-0.1.0.data/data/"
SHIPPED = sorted(
    p.relative_to(REPO / "notebooks").as_posix()
    for folder in ("guides", "cases")
    for p in (REPO / "notebooks" / folder).glob("*.ipynb")
)


def _run(*command: str | Path, cwd: Path = REPO) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    # JupyterLab colours "enabled" and "OK"; the words are what counts.
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(MATURIN, "build", "--release", "--quiet", "--out", out)
    (built,) = out.glob("funnel_workbench-*.whl")
    return built


def test_the_wheel_carries_the_extension_the_notebooks_and_the_server_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        data = {name.removeprefix(DATA) for name in names if name.startswith(DATA)}
        extension = "share/jupyter/labextensions/funnel-workbench/"
        assert {f"{extension}package.json", f"{extension}install.json"} <= data
        assert any(re.fullmatch(rf"{extension}static/remoteEntry\.\w+\.js", n) for n in data)
        config = "etc/jupyter/jupyter_server_config.d/funnel_workbench.json"
        assert json.loads(archive.read(DATA + config)) == {
            "ServerApp": {"jpserver_extensions": {"workbench.lab": True}}
        }
        library = "share/jupyter/funnel-workbench/notebooks/"
        assert sorted(n.removeprefix(library) for n in data if n.startswith(library)) == SHIPPED
        for notebook in SHIPPED:  # the copies are current, not left from an older build
            assert (
                archive.read(DATA + library + notebook)
                == (REPO / "notebooks" / notebook).read_bytes()
            )
        assert "workbench/lab/handlers.py" in names
    assert not any(part in n for n in data for part in ("node_modules", ".ts", "tsbuildinfo"))


def test_pip_install_of_the_wheel_is_enough_for_the_gallery(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # --no-compile: byte-compiling all of JupyterLab takes a while and proves nothing here.
    _run(python, "-m", "pip", "install", "--quiet", "--no-compile", f"{wheel}[lab]")

    extensions = _run(venv / "bin" / "jupyter", "labextension", "list", cwd=tmp_path)
    assert re.search(
        r"funnel-workbench v0\.1\.0 enabled OK \(python, funnel-workbench\)", extensions
    )
    server = _run(venv / "bin" / "jupyter", "server", "extension", "list", cwd=tmp_path)
    assert re.search(r"workbench\.lab enabled", server)
    assert re.search(r"workbench\.lab\s+OK", server)

    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "import workbench\n"
        "from workbench.lab import Gallery, default_library\n"
        "listing = Gallery(default_library(), Path('.')).listing()\n"
        "print(json.dumps({'package': workbench.__file__, 'library': str(default_library()),\n"
        "                  'items': [i['id'] for i in listing['items']],\n"
        "                  'problems': listing['problems']}))\n"
    )
    found = json.loads(_run(python, "-c", probe, cwd=tmp_path).strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(venv), "the scratch venv imported another copy"
    assert Path(found["library"]) == venv / "share" / "jupyter" / "funnel-workbench" / "notebooks"
    assert (sorted(found["items"]), found["problems"]) == (SHIPPED, [])
