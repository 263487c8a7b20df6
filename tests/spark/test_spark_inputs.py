"""Spark inputs as analysts have them — dates, timestamps without a zone, integer epochs, text
user keys, nulls — give the local answer; what cannot be read is refused on the driver before
any task runs, naming the column; a task's error reaches the driver as the workbench error it
raised; and every task runs the engine on one thread."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from equality import assert_same_result
from pyspark import cloudpickle
from pyspark.sql import functions as sf

import workbench as wb
import workbench.spark as ws
from workbench.exceptions import (
    ArgumentError,
    ColumnNotFoundError,
    ExecutorMismatchError,
    FunnelDefinitionError,
    ImplausibleTimesError,
    MissingDependencyError,
    NullValuesError,
    SchemaError,
    UnknownEventWarning,
)
from workbench.spark import engine, kernel
from workbench.spark.environment import map_in_arrow

cloudpickle.register_pickle_by_value(sys.modules[__name__])

FUNNEL = wb.Funnel(["view", "cart", wb.Step("pay", where=wb.col("price") > 5)], window="2d")
ROWS = {
    "user_id": ["b", "a", "b", "ü", "a", "Z", "b", "a"],
    "event": ["view", "view", "cart", "view", "cart", "view", "pay", "pay"],
    "day": [1, 1, 2, 3, 3, 4, 4, 9],
    "price": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0],
}


def table(time: pa.Array) -> pa.Table:
    return pa.table(
        {
            "user_id": ROWS["user_id"],
            "event": ROWS["event"],
            "time": time,
            "price": pa.array(ROWS["price"], pa.float64()),
        }
    )


def days() -> list[int]:
    return [20_000 + d for d in ROWS["day"]]


@pytest.mark.parametrize(
    "time",
    [
        pa.array([d * 86_400 * 10**6 for d in days()], pa.timestamp("us")),  # no zone: NTZ
        pa.array(days(), pa.date32()),
        pa.array([d * 86_400 * 10**6 for d in days()], pa.timestamp("us", tz="UTC")),
    ],
    ids=["timestamp_ntz", "date", "timestamp"],
)
def test_time_types_and_text_keys_give_the_local_answer(spark: Any, time: pa.Array) -> None:
    data = table(time)
    local = FUNNEL.run(wb.EventLog(data))
    remote = ws.run(FUNNEL, spark.createDataFrame(data), properties=["price"])
    assert_same_result(local, remote, breakdowns=("price",))
    # Text keys are numbered in the same (byte) order on both sides, unicode included.
    assert remote.log.user_keys.to_pylist() == ["Z", "a", "b", "ü"]


def test_integer_epochs_need_their_unit(spark: Any) -> None:
    data = table(pa.array([d * 86_400 for d in days()], pa.int64()))
    df = spark.createDataFrame(data)
    with pytest.raises(SchemaError, match=r"column 'time'.*time_unit='s'"):
        ws.run(FUNNEL, df)
    local = FUNNEL.run(wb.EventLog(data, time_unit="s"))
    assert_same_result(local, ws.run(FUNNEL, df, time_unit="s"))


def test_implausible_times_are_refused_before_any_task_as_locally(spark: Any) -> None:
    # Epochs in milliseconds declared as seconds land tens of thousands of years ahead.
    data = table(pa.array([d * 86_400_000 for d in days()], pa.int64()))
    df = spark.createDataFrame(data)
    with pytest.raises(ImplausibleTimesError):  # the local engine refuses the same log
        wb.EventLog(data, time_unit="s")
    with pytest.raises(
        ImplausibleTimesError,
        match=r"column 'time' has event times outside 1900-01-01 to 2200-01-01.*: "
        r"56730-11-18 00:00:00 and 56752-10-13 00:00:00\. For integer epochs check time_unit="
        r".*plausible_times=None",
    ):
        ws.run(FUNNEL, df, time_unit="s")
    local = FUNNEL.run(wb.EventLog(data, time_unit="s", plausible_times=None))
    assert_same_result(local, ws.run(FUNNEL, df, time_unit="s", plausible_times=None))
    with pytest.raises(ArgumentError, match=r"plausible_times is a span \(start, end\)"):
        ws.run(FUNNEL, df, time_unit="ms", plausible_times=("2200-01-01", "1900-01-01"))


def test_null_roles_are_refused_or_dropped_as_locally(spark: Any) -> None:
    data = table(pa.array(days(), pa.date32()))
    data = data.set_column(0, "user_id", pa.array([*ROWS["user_id"][:-1], None]))
    df = spark.createDataFrame(data)
    with pytest.raises(NullValuesError, match=r"column 'user_id' has 1 null.*drop_nulls=True"):
        ws.run(FUNNEL, df)
    local = FUNNEL.run(wb.EventLog(data, drop_nulls=True))
    remote = ws.run(FUNNEL, df, drop_nulls=True)
    assert_same_result(local, remote)
    assert remote.log.dropped_rows == local.log.dropped_rows == 1


def test_what_spark_cannot_hand_the_engine_is_refused_by_name(spark: Any) -> None:
    data = table(pa.array(days(), pa.date32()))
    df = spark.createDataFrame(data)
    with pytest.raises(ColumnNotFoundError, match=r"'prise'.*did you mean 'price'"):
        ws.run(wb.Funnel(["view", wb.Step("pay", where=wb.col("prise") > 1)]), df)
    tagged = df.withColumn("tags", sf.array(sf.lit("x")))
    with pytest.raises(SchemaError, match=r"property column 'tags' has Spark type array<string>"):
        ws.run(FUNNEL, tagged, properties=["tags"])
    money = df.withColumn("price", sf.col("price").cast("decimal(10,2)"))
    with pytest.raises(SchemaError, match=r"decimal\(10,2\).*cast\('double'\)"):
        ws.run(FUNNEL, money)
    numbered = df.withColumn("event", sf.lit(1))
    with pytest.raises(SchemaError, match=r"event column 'event' has Spark type int"):
        ws.run(FUNNEL, numbered)
    with pytest.raises(FunnelDefinitionError, match=r"text .* the number 5"):
        ws.run(FUNNEL, df.withColumn("price", sf.col("price").cast("string")))
    with pytest.raises(SchemaError, match=r"called 'level'"):
        ws.run(FUNNEL, df.withColumnRenamed("user_id", "level"), user="level")
    with pytest.raises(ArgumentError, match=r"takes a Spark DataFrame.*wb.EventLog"):
        ws.run(FUNNEL, data.to_pylist())  # type: ignore[arg-type]
    with pytest.raises(FunnelDefinitionError, match=r"finer than the log's time unit \(s\)"):
        ws.run(wb.Funnel(["view", "pay"], window="1500ms"), df)
    with pytest.warns(UnknownEventWarning, match=r"'vieww'.*did you mean 'view'"):
        ws.outcomes(wb.Funnel(["vieww", "pay"]), df)


def test_the_outcome_frame_stays_in_spark_and_comes_back_whole(spark: Any) -> None:
    data = table(pa.array(days(), pa.date32()))
    df = spark.createDataFrame(data)
    frame = ws.outcomes(FUNNEL, df, properties=["price"]).cache()
    assert frame.columns[:6] == [
        "user_id",
        "level",
        "reached",
        "in_progress",
        "excluded",
        "entry_time",
    ]
    assert frame.where("level >= 2").count() == 2
    local = FUNNEL.run(wb.EventLog(data))
    assert_same_result(local, ws.to_result(frame), breakdowns=("price",))
    with pytest.raises(ArgumentError, match="carries the run's description"):
        ws.to_result(df)


def test_a_task_error_reaches_the_driver_as_the_workbench_error(spark: Any) -> None:
    df = spark.createDataFrame(table(pa.array(days(), pa.date32())))
    planned = engine.plan(FUNNEL, df)
    # A task sent by a driver of another version refuses to run; the check runs in the task.
    stale = replace(planned, task=replace(planned.task, version="0.0.1"))
    with pytest.raises(
        ExecutorMismatchError, match=r"executors run funnel-workbench .* driver runs 0\.0\.1"
    ):
        ws.to_result(engine.outcome_frame(stale))


def test_executors_without_the_workbench_are_named_with_the_fix(spark: Any, tmp_path: Path) -> None:
    # An interpreter that cannot import the workbench, as an executor without the wheel.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'workbench' or name.startswith('workbench.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'workbench'\")\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    python = tmp_path / "python-without-workbench"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={hide} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    context = spark.sparkContext
    before = context.pythonExec
    context.pythonExec = str(python)
    try:
        df = spark.createDataFrame(table(pa.array(days(), pa.date32())))
        with pytest.raises(
            ExecutorMismatchError,
            match=r"cannot import the workbench.*pip install funnel-workbench==",
        ):
            ws.run(FUNNEL, df)
    finally:
        context.pythonExec = before


def _engine_threads(task: kernel.FunnelTask, batches: Any) -> Any:
    """Run the kernel, then ask the engine's pool for 8 threads: it keeps the one it has."""
    from workbench import _core

    list(kernel.run_funnel_partition(task, batches))
    yield pa.RecordBatch.from_pydict({"threads": [_core.limit_threads(8)]})


def test_every_task_runs_the_engine_on_one_thread(spark: Any) -> None:
    df = spark.createDataFrame(table(pa.array(days(), pa.date32())))
    planned = engine.plan(FUNNEL, df)
    rows = planned.rows.repartition(2, "user_id")
    counts = map_in_arrow(rows, partial(_engine_threads, planned.task), "threads long").toArrow()
    assert counts.column("threads").to_pylist() == [1, 1]


def test_missing_pyspark_and_java_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyspark' or name.startswith('pyspark.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'pyspark'\")\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import workbench.spark\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("MissingDependencyError workbench.spark needs pyspark")
    assert "pip install 'pyspark>=4'" in out.stdout
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingDependencyError, match=r"no 'java' is on PATH.*openjdk-17"):
        ws.local_session()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(MissingDependencyError, match=r"JAVA_HOME is '/nonexistent/jdk'"):
        ws.find_java()
