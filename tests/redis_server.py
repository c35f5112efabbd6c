"""A real redis-server for the shared-limiter tests: started on a free loopback port in a temp dir.

``REDIS_URL`` in the environment points the tests at a server you run instead (tests that must
stop and restart the server still start their own). Without redis-server installed the tests skip,
except in CI (``CI=true``), where .ci/run installs it and its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchmarks._redis import RedisServer, free_port
from benchmarks._redis import started_server as start_in

__all__ = ["RedisServer", "free_port", "redis_server_binary", "started_server"]


def redis_server_binary() -> str:
    """The redis-server executable; skips the test (fails it in CI) when there is none."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return found


def started_server(directory: Path, extra_args: tuple[str, ...] = ()) -> RedisServer:
    """A running redis-server of the test's own (skipped, or failed in CI, without redis-server)."""
    return start_in(directory, binary=redis_server_binary(), extra_args=extra_args)
