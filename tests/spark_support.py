"""One local Spark session for the test run, or a skip that says why.

Spark needs pyspark and a Java runtime. A developer without them gets a
skip; CI sets CPTKG_REQUIRE_SPARK=1 (.ci/batch.sh), where a missing piece is
a failure instead, so the Spark tests cannot silently stop running.
"""
from __future__ import annotations

import os
import shutil

import pytest


def spark_session():
    required = os.environ.get("CPTKG_REQUIRE_SPARK") == "1"
    problem = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problem = "pyspark is not installed (pip install -e '.[spark]')"
    if problem is None and not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        problem = "no Java runtime (apt-get install openjdk-17-jre-headless)"
    if problem:
        if required:
            pytest.fail(f"Spark tests required but {problem}")
        pytest.skip(problem)
    from cptkg.engines.sql.spark import local_session

    return local_session(app="cptkg-tests", partitions=1)
