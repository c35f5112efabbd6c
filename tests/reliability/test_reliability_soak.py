"""The soak: chaos rounds back to back for minutes through one long-lived client, with memory
sampled after each round; it must stay flat. ``nox -s soak`` runs it (5 minutes per backend;
``SMSAPI_SOAK_SECONDS`` overrides); the default test run deselects it (see ``conftest.py``)."""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from reliability.chaos_run import chaos_client, chaos_round, check

pytestmark = [pytest.mark.anyio, pytest.mark.soak]

MiB = 1024 * 1024
GROWTH_ALLOWED = 2 * MiB
"""Traced heap the late rounds may hold beyond the early ones (the sandbox's state alone is reset)."""


def rss() -> int:
    """Resident memory now, in bytes (Linux; 0 elsewhere)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return 0
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_memory_stays_flat_over_minutes_of_chaos(anyio_backend: str) -> None:
    seconds = float(os.environ.get("SMSAPI_SOAK_SECONDS", "300"))
    heap: list[int] = []
    resident: list[int] = []
    tracemalloc.start()
    try:
        async with chaos_client(seed=41) as (client, sandbox, limiter, log):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline or len(heap) < 8:
                sandbox.reset()
                log.reset()
                check(await chaos_round(client, sandbox, limiter, log, n=2_000, members=500))
                gc.collect()
                heap.append(tracemalloc.get_traced_memory()[0])
                resident.append(rss())
    finally:
        tracemalloc.stop()
    quarter = len(heap) // 4
    early, late = heap[quarter : 2 * quarter], heap[-quarter:]  # the first quarter warms caches up
    growth = statistics.median(late) - statistics.median(early)
    print(
        f"\n{anyio_backend}: {len(heap)} rounds in {seconds:g} s; traced heap "
        f"{statistics.median(early) / MiB:.1f} -> {statistics.median(late) / MiB:.1f} MiB; "
        f"RSS {resident[quarter] / MiB:.0f} -> "
        f"{resident[-1] / MiB:.0f} MiB",
        file=sys.stderr,
    )
    assert growth < GROWTH_ALLOWED, [round(h / MiB, 2) for h in heap]
