"""The benchmarks' ``--quick`` mode runs in-process and yields every table with its expected rows.

Timing targets are not checked here: they depend on the machine and belong to the benchmark output.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("aiolimiter")
pytest.importorskip("rich")
pytest.importorskip("asyncio_throttle")
pytest.importorskip("tenacity")

from rich.console import Console

from benchmarks import Table
from benchmarks.__main__ import machine, markdown, run
from benchmarks.peers import IMPORTS

Output = tuple[list[Table], str]


@pytest.fixture(scope="module")
def output() -> Output:
    """One quick run, shared by every test here: its tables, and everything it printed."""
    printed = io.StringIO()
    tables = run(quick=True, console=Console(file=printed, width=200))
    return tables, printed.getvalue()


def table(output: Output, title_start: str) -> Table:
    [found] = [t for t in output[0] if t.title.startswith(title_start)]
    return found


def test_quick_run_yields_nine_tables_of_filled_rows(output: Output) -> None:
    tables, printed = output
    assert len(tables) == 9
    for t in tables:
        assert t.rows
        assert all(len(row) == len(t.columns) and all(row) for row in t.rows)
        assert t.title in printed


def test_acquire_cost_compares_with_every_peer(output: Output) -> None:
    t = table(output, "Uncontended acquire")
    assert t.column("contender") == [
        "await of an empty coroutine",
        "RateLimiter",
        "aiolimiter.AsyncLimiter",
        "asyncio_throttle.Throttler",
        "pyrate_limiter.Limiter",
    ]
    assert t.column("ratio to aiolimiter")[2] == "1.00"
    assert "1.00" in t.column("ratio to fastest peer")[2:]


def test_waiter_memory_compares_with_every_peer(output: Output) -> None:
    t = table(output, "Memory per waiter")
    assert t.column("contender")[:4] == [
        "RateLimiter",
        "aiolimiter.AsyncLimiter",
        "asyncio_throttle.Throttler",
        "pyrate_limiter.Limiter",
    ]


def test_jittery_server_runs_both_clients_side_by_side(output: Output) -> None:
    t = table(output, "Through the client, at a strict server")
    assert t.column("client") == ["AsyncSmsClient", "httpx + aiolimiter + tenacity"]
    assert all(int(n) > 0 for n in t.column("requests"))


def test_import_time_compares_with_httpx(output: Output) -> None:
    t = table(output, "Import time")
    assert t.column("import") == [row for row, _ in IMPORTS]
    assert t.column("÷ import httpx")[0] == "1.00"


def test_markdown_has_the_machine_and_every_table(output: Output) -> None:
    text = markdown(output[0], machine())
    assert "- machine:" in text
    assert "- versions:" in text
    assert text.count("\n## ") == len(output[0])


def test_many_waiters_runs_on_both_backends(output: Output) -> None:
    t = table(output, "300 waiters")
    assert t.column("backend") == ["asyncio", "trio"]
    assert "B/waiter" in t.columns


def test_saturated_run_covers_both_rates_and_both_limiters(output: Output) -> None:
    t = table(output, "Saturated for 1.1 s")
    assert t.column("limiter") == [
        "RateLimiter(2)",
        "RateLimiter(2, safety_margin=0)",
        "AsyncLimiter(2, 1)",
        "RateLimiter(15)",
        "RateLimiter(15, safety_margin=0)",
        "AsyncLimiter(15, 1)",
    ]


def test_virtual_run_keeps_every_window_within_the_rate(output: Output) -> None:
    t = table(output, "Saturated for 200 grants")
    rows = dict(zip(t.column("limiter"), t.column("max in any 1 s"), strict=True))
    assert set(rows) == {
        "RateLimiter(2)",
        "RateLimiter(2, safety_margin=0)",
        "RateLimiter(15)",
        "RateLimiter(15, safety_margin=0)",
    }
    # Virtual time is deterministic, so this is a property, not a timing target.
    assert rows["RateLimiter(2)"] == "2"
    assert rows["RateLimiter(15)"] == "15"


def test_strict_server_sees_no_429_with_the_default_margin(output: Output) -> None:
    t = table(output, "Strict 1 s sliding-window server")
    rows = dict(zip(t.column("safety_margin"), t.column("429s"), strict=True))
    assert set(rows) == {"0", "default (0.005)"}
    assert rows["default (0.005)"] == "0"


def test_client_overhead_covers_both_calls_on_both_servers_and_backends(output: Output) -> None:
    t = table(output, "Client overhead")
    assert list(zip(t.column("backend"), t.column("server"), t.column("call"), strict=True)) == [
        (backend, server, call)
        for backend in ("asyncio", "trio")
        for server in ("in-process", "loopback")
        for call in ("get-balance", "send-sms")
    ]
    for column in ("ratio", "ratio with limiter"):
        assert all(float(ratio) > 0 for ratio in t.column(column))
