"""The shared-limiter benchmarks' ``--quick`` mode runs against a real redis-server and fills both
tables with a row per limiter. Figures are not checked here: they belong to the benchmark output."""

from __future__ import annotations

import io

from rich.console import Console

from benchmarks.shared_limiter import KINDS, run


def test_quick_run_fills_both_tables_for_every_limiter(redis_url: str) -> None:
    printed = io.StringIO()
    cost, conformance = run(quick=True, redis_url=redis_url, console=Console(file=printed, width=200))
    for table in (cost, conformance):
        assert [row[0] for row in table.rows] == list(KINDS)
        assert table.title in printed.getvalue()
    assert all(float(cell.replace(",", "")) > 0 for cell in cost.column("grants/s, 50 callers"))
    assert all(float(cell) >= 0 for cell in conformance.column("grants/s"))  # a slow start may miss it
    calls = dict(zip(conformance.column("limiter"), conformance.column("Redis calls/grant"), strict=True))
    assert calls["RateLimiter, one per process"] == "-"
    assert float(calls["RedisRateLimiter (built-in, trio)"]) >= 1
