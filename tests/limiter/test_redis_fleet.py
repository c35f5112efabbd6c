"""A fleet of OS processes sharing one account through RedisRateLimiter, against the served sandbox.

Four worker processes (two under asyncio, two under trio) of 50 coroutines each call get-balance
as fast as their limiter lets them, on one account whose limit (in the sandbox, a strict sliding
1-second window) is 10 calls/s. Each arrival is timestamped as it reaches the server. Real Redis,
real sockets, real time: about 10 s per scenario.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer, started_server
from support import TESTS

from benchmarks.shared_limiter import most_in_one_second
from smsapi_async.sandbox import Sandbox, SandboxConfig
from smsapi_async.sandbox._server import serve_app_in_thread

WORKER = TESTS / "shared_limiter_worker.py"
RATE = 10
PROCESSES = 4
COROUTINES = 50
BACKENDS = ("asyncio", "trio", "asyncio", "trio")
SAFETY_MARGIN = 0.1
"""Seconds of arrival jitter each second of grants absorbs (the default is 5 ms). The sandbox stamps
a request when its handler runs, and with five Python processes on a busy 2-core machine that can
come tens of milliseconds after the request arrived: more than a real network's jitter. At 50 ms, a
full parallel test run once drew one 429 while the arrivals, stamped as they reached the server,
never held more than the rate in any second."""


class Arrivals:
    """ASGI middleware: the monotonic time each API request reaches the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox"):
            with self.lock:
                self.times.append(time.monotonic())
        await self.app(scope, receive, send)


class Fleet:
    def __init__(self, sandbox: Sandbox, arrivals: Arrivals, results: list[dict[str, Any]]) -> None:
        self.sandbox = sandbox
        self.arrivals = arrivals
        self.results = results

    def count(self, status: int) -> int:
        return sum(1 for entry in self.sandbox.requests if entry["status"] == status)

    def check(self, seconds: float) -> None:
        """What every scenario must show: nothing lost, nothing refused, no window over the rate."""
        print(self.results, len(self.arrivals.times), most_in_one_second(self.arrivals.times))
        for result in self.results:
            assert result["errors"] == {}, result
            assert result["succeeded"] == result["started"]
        succeeded = sum(r["succeeded"] for r in self.results)
        assert self.count(429) == 0
        assert self.count(200) == succeeded == len(self.arrivals.times)
        assert most_in_one_second(self.arrivals.times) <= RATE
        # generous: the point is that the fleet shares the rate, not a throughput figure
        assert succeeded >= 0.6 * RATE * seconds
        assert len({r["key"] for r in self.results}) == 1


def run_fleet(
    redis_url: str,
    seconds: float,
    *,
    extra: Sequence[dict[str, Any]] = (),
    during: Callable[[], None] | None = None,
) -> Fleet:
    sandbox = Sandbox(SandboxConfig(rate_limit=RATE))
    account = sandbox.config.accounts[0]
    arrivals = Arrivals(sandbox.app)
    with serve_app_in_thread(arrivals) as base_url:
        procs = []
        try:
            for index in range(PROCESSES):
                config = {
                    "redis_url": redis_url,
                    "base_url": base_url,
                    "api_key": account.api_key,
                    "api_secret": account.api_secret,
                    "rate": RATE,
                    "safety_margin": SAFETY_MARGIN,
                    "seconds": seconds,
                    "coroutines": COROUTINES,
                    "backend": BACKENDS[index],
                    **(extra[index] if extra else {}),
                }
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(WORKER), json.dumps(config)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            for proc in procs:
                assert proc.stdout is not None
                assert proc.stdout.readline().strip() == "ready"
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            if during is not None:
                during()
            results = []
            for proc in procs:
                out, _ = proc.communicate(timeout=seconds + 60)
                assert proc.returncode == 0, out
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    return Fleet(sandbox, arrivals, results)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and restart."""
    server = started_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_four_processes_of_fifty_coroutines_share_one_account_with_no_429(redis_url: str) -> None:
    fleet = run_fleet(redis_url, seconds=10)
    fleet.check(seconds=10)


def test_a_redis_restart_mid_run_loses_no_request_and_bursts_nothing(own_redis: RedisServer) -> None:
    def restart() -> None:
        time.sleep(3)
        own_redis.restart(down=1.0)

    fleet = run_fleet(own_redis.url, seconds=8, during=restart)
    fleet.check(seconds=8 - 1)
    gaps = sorted(b - a for a, b in zip(fleet.arrivals.times, fleet.arrivals.times[1:], strict=False))
    assert gaps[-1] >= 1.0  # the outage was real: nothing was sent while Redis was down


def test_skewed_and_drifting_process_clocks_change_nothing(redis_url: str) -> None:
    skews = [
        {"skew": 0.0, "drift": 1.0},
        {"skew": 3600.0, "drift": 1.01},  # an hour ahead, and 1 % fast
        {"skew": -86_400.0, "drift": 0.99},  # a day behind, and 1 % slow
        {"skew": 7_000_000.0, "drift": 1.0},
    ]
    fleet = run_fleet(redis_url, seconds=6, extra=skews)
    fleet.check(seconds=6)
