"""What Spark needs around the workbench: pyspark and Java on the driver, the same workbench on
the executors, and a local session for a notebook, a test or a benchmark.

An error raised inside a Spark task reaches the driver as a ``PythonException`` holding the
worker's traceback as text; :func:`worker_error` turns it back into the workbench error the task
raised (or an :class:`~workbench.exceptions.ExecutorMismatchError` when the executors could not
import the workbench at all), so a bad column on a cluster reads as it does on a laptop.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import exceptions
from workbench.exceptions import ExecutorMismatchError, MissingDependencyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["find_java", "local_session", "map_in_arrow", "require_pyspark", "worker_error"]

INSTALL_JAVA = (
    "install Java 17 or 21 (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) or set "
    "JAVA_HOME to a Java installation"
)
SHIP_WORKBENCH = (
    "install the same funnel-workbench wheel on every executor (pip install "
    "funnel-workbench=={version}), or ship a packed environment with the job "
    "(docs/scale-out.md, 'How the engine reaches the executors')"
)


def require_pyspark() -> None:
    """Refuse, naming what to install, when pyspark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "workbench.spark needs pyspark on the driver: pip install 'pyspark>=4' (Spark also "
            f"needs Java: {INSTALL_JAVA})"
        ) from None


def find_java() -> Path:
    """The ``java`` program Spark will start: ``$JAVA_HOME/bin/java``, else the one on PATH.

    >>> find_java().name
    'java'
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise MissingDependencyError(
            f"JAVA_HOME is {home!r}, but {str(candidate)!r} is not a program; {INSTALL_JAVA}"
        )
    found = shutil.which("java")
    if found is None:
        raise MissingDependencyError(
            f"Spark runs on Java, and no 'java' is on PATH (JAVA_HOME is not set): {INSTALL_JAVA}"
        )
    return Path(found)


def local_session(
    cores: int | None = None,
    *,
    shuffle_partitions: int | None = None,
    time_zone: str | None = None,
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session in local mode whose Python workers run this interpreter, so they import
    the same installed workbench as the driver (the "installed package" way to reach executors).

    ``cores`` defaults to all of them; ``shuffle_partitions`` to twice the cores (Spark's 200 is
    meant for clusters); ``time_zone`` sets ``spark.sql.session.timeZone``. The Spark UI is off.
    An existing session is returned as it is (Spark has one per process).
    """
    require_pyspark()
    find_java()
    from pyspark.sql import SparkSession

    # Workers start with the interpreter named here; without it they take `python3` on PATH,
    # which may lack pyarrow and the workbench.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    n = cores if cores is not None else (os.cpu_count() or 1)
    builder = (
        SparkSession.builder.master(f"local[{n}]")
        .appName("funnel-workbench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 2 * n))
    )
    if time_zone is not None:
        builder = builder.config("spark.sql.session.timeZone", time_zone)
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def map_in_arrow(
    frame: DataFrame,
    function: Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]],
    schema: StructType,
) -> DataFrame:
    """``frame.mapInArrow(function, schema)``, without pyspark's warning about pandas 3: the
    function sees Arrow only, so which pandas is installed does not matter to it."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", FutureWarning
        )
        return frame.mapInArrow(function, schema)


_WORKBENCH_ERROR = re.compile(r"^workbench\.exceptions\.(\w+): (.*)$", re.MULTILINE)
_MISSING_MODULE = re.compile(
    r"^(?:ModuleNotFoundError|ImportError): (.*workbench.*)$", re.MULTILINE
)


def worker_error(error: BaseException, version: str) -> Exception | None:
    """The workbench error a Spark task raised, rebuilt on the driver from the traceback text
    Spark hands back; None when ``error`` is not one (re-raise it as it is).

    >>> text = "Traceback ...\\nworkbench.exceptions.SchemaError: column 'x' is a map"
    >>> worker_error(RuntimeError(text), "0.1.0")
    SchemaError("column 'x' is a map")
    """
    text = str(error)
    found = _WORKBENCH_ERROR.findall(text)
    if found:
        name, message = found[-1]
        kind = getattr(exceptions, name, None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                rebuilt: Exception = kind(message)
            except TypeError:  # a class that takes more than its message
                rebuilt = exceptions.WorkbenchError(f"{name}: {message}")
            return rebuilt
    missing = _MISSING_MODULE.findall(text)
    if missing:
        return ExecutorMismatchError(
            f"the Spark executors cannot import the workbench ({missing[-1].strip()}); "
            + SHIP_WORKBENCH.format(version=version)
        )
    return None
