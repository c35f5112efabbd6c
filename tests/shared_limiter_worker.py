"""One worker process of the shared-limiter fleet tests (run by tests/limiter/test_redis_fleet.py).

``python shared_limiter_worker.py CONFIG_JSON``: runs ``coroutines`` callers making get-balance
calls through one AsyncSmsClient whose limiter is a RedisRateLimiter, until ``seconds`` have
passed, then prints one JSON line: calls started, succeeded, and errors by type.

``skew`` shifts this process's clocks (``time.time`` and ``time.monotonic``, which the event loop
reads too) by that many seconds, and ``drift`` makes the limiter's own clock run that much fast or
slow: neither may change what the fleet sends, since every decision is taken on Redis's clock.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import Any

import anyio

from smsapi_async import AsyncSmsClient, RedisRateLimiter, SystemClock, account_key


class Stop(Exception):
    """The run is over: a caller still waiting for the limiter gives up (nothing was sent)."""


class UntilDeadline(RedisRateLimiter):
    """The shared limiter, except that waiting stops at the end of the run."""

    deadline = float("inf")

    async def acquire(self, *args: Any, **kwargs: Any) -> None:
        with anyio.move_on_after(self.deadline - time.monotonic()) as scope:
            await super().acquire(*args, **kwargs)
        if scope.cancelled_caught:
            raise Stop


class DriftingClock(SystemClock):
    """A local clock that runs ``speed`` times as fast as real time."""

    __slots__ = ("speed",)

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def now(self) -> float:
        return time.monotonic() * self.speed

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds) / self.speed)


def skew_clocks(offset: float) -> None:
    real_time, real_monotonic = time.time, time.monotonic
    time.time = lambda: real_time() + offset  # type: ignore[assignment]
    time.monotonic = lambda: real_monotonic() + offset  # type: ignore[assignment]


async def work(config: dict[str, Any]) -> dict[str, Any]:
    clock = DriftingClock(config.get("drift", 1.0))
    limiter = UntilDeadline(
        config["redis_url"],
        key=account_key(config["api_key"]),  # what AsyncSmsClient derives on its own
        rate=config["rate"],
        safety_margin=config["safety_margin"],
        clock=clock,
    )
    started = succeeded = 0
    errors: Counter[str] = Counter()
    async with AsyncSmsClient(
        config["api_key"],
        config["api_secret"],
        base_url=config["base_url"],
        limiter=limiter,
        max_retries=10,
        max_retry_wait=120,
    ) as client:
        limiter.deadline = time.monotonic() + config["seconds"]

        async def caller() -> None:
            nonlocal started, succeeded
            while True:
                started += 1
                try:
                    await client.account.balance()
                except Stop:
                    started -= 1
                    return
                except Exception as exc:
                    errors[type(exc).__name__] += 1
                else:
                    succeeded += 1

        async with anyio.create_task_group() as tg:
            for _ in range(config["coroutines"]):
                tg.start_soon(caller)
        shared = client.limiter
        assert shared is limiter
        return {
            "started": started,
            "succeeded": succeeded,
            "errors": dict(errors),
            "grants": shared.grants,
            "redis_calls": shared.redis_calls,
            "ops": {f"{op}:{ok}": n for (op, ok), n in shared._ops.items()},
            "key": shared.key,
        }


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("skew"):
        skew_clocks(config["skew"])
    print("ready", flush=True)
    sys.stdin.readline()  # the test starts every worker at once
    result = anyio.run(work, config, backend=config["backend"])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
