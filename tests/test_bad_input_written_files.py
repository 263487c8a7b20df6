"""Writing a file where it cannot go is refused with the path and the reason: a missing folder, a
folder where the file should be, a file where a folder should be. Every writer an analyst calls
(audience exports and saves, tags, tracking plans, funnel definitions) says the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench import exceptions as ex


def _writers(log: Any) -> dict[str, tuple[str, Callable[[Path], object]]]:
    audience = wb.Funnel(["view", "cart"]).run(log).dropped_after(1)
    tags = wb.TagStore(log)
    tags.add("viewers", wb.Audience.did(log, "view"))
    return {
        "audience.to_csv": ("audience", audience.to_csv),
        "audience.to_parquet": ("audience", audience.to_parquet),
        "audience.save": ("audience", audience.save),
        "tags.save": ("tags", tags.save),
        "plan.save": ("tracking plan", wb.TrackingPlan.infer(log).save),
        "funnel.save": ("funnel", wb.Funnel(["view", "cart"]).save),
    }


WRITERS = [
    "audience.to_csv",
    "audience.to_parquet",
    "audience.save",
    "tags.save",
    "plan.save",
    "funnel.save",
]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_missing_folder_is_named(writer: str, shop_log: Any, tmp_path: Path) -> None:
    what, write = _writers(shop_log)[writer]
    target = tmp_path / "campaigns" / "out.file"
    with pytest.raises(ex.UnwritableFileError) as err:
        write(target)
    assert str(err.value) == (
        f"cannot write the {what} to {str(target)!r}: no folder {str(target.parent)!r}"
    )
    assert isinstance(err.value, OSError) and isinstance(err.value, ValueError)
    assert not target.parent.exists()


@pytest.mark.parametrize("writer", WRITERS)
def test_a_folder_in_place_of_the_file_is_named(writer: str, shop_log: Any, tmp_path: Path) -> None:
    what, write = _writers(shop_log)[writer]
    with pytest.raises(ex.UnwritableFileError) as err:
        write(tmp_path)
    assert str(err.value) == (
        f"cannot write the {what} to {str(tmp_path)!r}: it is a folder; give a file name inside it"
    )


@pytest.mark.parametrize("writer", WRITERS)
def test_a_file_in_place_of_the_folder_is_named(writer: str, shop_log: Any, tmp_path: Path) -> None:
    what, write = _writers(shop_log)[writer]
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    with pytest.raises(ex.UnwritableFileError) as err:
        write(blocker / "out.file")
    assert str(err.value) == (
        f"cannot write the {what} to {str(blocker / 'out.file')!r}: "
        f"{str(blocker)!r} is a file, not a folder"
    )
    assert blocker.read_text() == "not a folder"


def test_the_systems_refusal_while_writing_is_named(shop_log: Any, tmp_path: Path) -> None:
    # /proc refuses new files even to root, so this holds whoever runs the tests.
    target = Path("/proc/workbench-export.csv")
    audience = wb.Audience.did(shop_log, "view")
    with pytest.raises(ex.UnwritableFileError) as err:
        audience.to_csv(target)
    assert str(err.value).startswith("cannot write the audience to '/proc/workbench-export.csv': ")
    assert isinstance(err.value.__cause__, OSError)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_path_of_the_wrong_kind_is_refused(writer: str, shop_log: Any) -> None:
    what, write = _writers(shop_log)[writer]
    with pytest.raises(ex.ArgumentError) as err:
        write(42)  # type: ignore[arg-type]
    assert str(err.value) == f"the path to write the {what} to is text or a Path; got 42"


def test_writing_where_it_can_still_works(shop_log: Any, tmp_path: Path) -> None:
    writers = _writers(shop_log)
    assert list(writers) == WRITERS
    for writer, (_, write) in writers.items():
        target = tmp_path / f"{writer}.out"
        write(target)
        assert target.stat().st_size > 0, writer
