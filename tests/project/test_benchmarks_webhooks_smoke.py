"""The callback benchmark runs, and shows what the hand-written check gets wrong."""

from __future__ import annotations

import pytest

pytest.importorskip("rich")

from benchmarks.webhooks import callback_cost


def test_the_callback_benchmark_fills_its_table_and_the_naive_check_misses_slashes() -> None:
    table = callback_cost(ops=50, requests=10)
    assert len(table.rows) == 5
    accepted = table.column("genuine callbacks accepted")
    assert accepted[:2] == ["3/5", "5/5"]  # two of the five texts hold a "/"
    assert all(float(cell) > 0 for cell in table.column("µs"))
