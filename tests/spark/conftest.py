"""One real Spark session in local mode for every Spark test (starting one takes seconds).

Its Python workers run this interpreter, so they import the workbench installed in it: the
"installed package" way the engine reaches executors (docs/scale-out.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import workbench.spark as ws


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    session = ws.local_session(
        2,
        shuffle_partitions=4,
        time_zone="UTC",
        config={
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.adaptive.coalescePartitions.enabled": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session


# pyspark warns on every pandas conversion when pandas is 3.x; the tests build their Spark frames
# from pandas on purpose (the workbench itself hands Spark only Arrow).
PANDAS_3 = "ignore:PySpark does not yet fully support pandas:FutureWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/spark/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings(PANDAS_3))
