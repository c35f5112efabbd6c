"""``python -m benchmarks.bulk --quick`` runs and fills its three tables (targets are not asserted:
they depend on the machine; the calls count does not, so it is checked)."""

from __future__ import annotations

import io

import anyio
import pytest

pytest.importorskip("rich")

from rich.console import Console

from benchmarks import Table
from benchmarks.bulk import _served_strict, peak_memory, run
from benchmarks.pacing import StrictServer
from smsapi_async import AsyncSmsClient


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    return run(quick=True, console=Console(file=io.StringIO(), width=200))


def test_quick_run_fills_four_tables(tables: list[Table]) -> None:
    assert [t.title.split(" ")[0] for t in tables] == ["send-sms", "Wall", "Peak", "Resuming"]
    for t in tables:
        assert t.rows
        assert all(len(row) == len(t.columns) and all(row) for row in t.rows)


def test_bulk_makes_the_fewest_calls_and_naive_one_per_recipient(tables: list[Table]) -> None:
    calls = tables[0]
    assert calls.column("calls") == ["3", "50"]
    assert calls.column("calls per 100 000") == ["250", "100,000"]


def test_wall_time_compares_both_approaches_and_the_sandbox(tables: list[Table]) -> None:
    wall = tables[1]
    assert wall.column("approach") == ["send_bulk", "asyncio.gather of send()", "send_bulk"]
    assert all(row.endswith("%") for row in wall.column("of ideal"))


def test_the_resume_settles_the_calls_in_flight_with_few_look_ups(tables: list[Table]) -> None:
    resume = tables[3]
    assert resume.column("run")[0] == "clean run"
    clean, rerun = (int(v.replace(",", "")) for v in resume.column("calls"))
    assert clean == 10  # 5 000 recipients in calls of 500
    assert 1 <= int(resume.column("look-ups")[1]) <= 10
    assert rerun < clean


def test_peak_memory_is_the_fresh_process_own_not_its_parents() -> None:
    """On Linux ``ru_maxrss`` survives ``exec``: a child started by a process holding 400 MB would
    report 400 MB whatever it did. The benchmark must report the child's own peak."""
    held = bytearray(400 * 1024 * 1024)
    for page in range(0, len(held), 4096):  # touch every page, so it is resident
        held[page] = 1
    table = peak_memory(recipients=2_000, naive_recipients=200)
    peak, after_imports = (float(v) for v in table.rows[0][2:4])
    assert held[-4096] == 1
    assert 0 < after_imports <= peak < 300


def test_the_strict_server_counts_a_sliding_second_like_the_api() -> None:
    api = StrictServer(rate=3, jitter=0.0, seed=0)
    try:
        times = (0.0, 0.125, 0.25, 0.875, 1.0, 1.0625, 1.125, 1.25)  # exact in binary
        assert [api.count(t) for t in times] == [
            True,
            True,
            True,
            False,  # a 4th within one second
            True,  # 0.0 has left the window
            False,
            True,  # 0.125 has left it
            True,  # 0.25 has left it
        ]
        assert api.rejected == 2
        assert api.accepted == [0.0, 0.125, 0.25, 1.0, 1.125, 1.25]
    finally:
        api.server_close()


def test_wall_time_requests_leave_over_a_real_connection_and_the_limiter_is_told() -> None:
    """The wall-time benchmark's strict server runs in its own process on a loopback socket, so the
    client tells its limiter when each request leaves (httpcore's trace of the connection) and the
    limiter times the real latency. Through an in-process ``httpx.MockTransport`` (the benchmark's
    server before) no request is ever reported leaving: each counts as leaving at its answer, a
    whole latency late, and the limiter's window then paces ``rate`` calls per ``1 + margin +
    latency`` seconds, a cost users on a real connection do not pay."""
    latency = 0.2

    async def three_sends() -> int:
        async with AsyncSmsClient("k", "s", base_url=url, rate_limit=15) as client:
            for _ in range(3):
                sent = await client.sms.send(message="hi", to=["61400000001", "61400000002"])
                assert sent.recipients == 2
            limiter = client.limiter
            assert limiter is not None
            # the latencies it learns from: a request is timed only once it was reported leaving
            return len(limiter._latencies)  # type: ignore[attr-defined]

    with _served_strict(15, latency) as (url, seen):
        timed = anyio.run(three_sends)
        figures = seen()
    assert timed == 3
    assert len(figures["accepted"]) == 3
    assert figures["rejected"] == 0
    assert len(figures["answered"]) == 3
    arrivals_and_answers = zip(figures["accepted"], figures["answered"], strict=True)
    waits = [answered - arrived for arrived, answered in arrivals_and_answers]
    assert min(waits) >= latency - 0.001  # a timer may run up to the loop's clock resolution early
