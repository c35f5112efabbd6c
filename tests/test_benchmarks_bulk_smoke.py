"""``python -m benchmarks.bulk --quick`` runs and fills its three tables (targets are not asserted:
they depend on the machine; the calls count does not, so it is checked)."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("rich")

from rich.console import Console

from benchmarks import Table
from benchmarks.bulk import peak_memory, run


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    return run(quick=True, console=Console(file=io.StringIO(), width=200))


def test_quick_run_fills_three_tables(tables: list[Table]) -> None:
    assert [t.title.split(" ")[0] for t in tables] == ["send-sms", "Wall", "Peak"]
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
