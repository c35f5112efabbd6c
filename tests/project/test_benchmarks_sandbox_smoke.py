"""The sandbox report benchmarks run: a walk reads every recipient once, page by page, and a bulk
send whose every answer was lost is settled by reconciliation, one report page per 100 recipients."""

from __future__ import annotations

import pytest

pytest.importorskip("rich")

from benchmarks.sandbox import reconciliation, report_walk


def test_the_report_walk_reads_every_page() -> None:
    table = report_walk(sizes=(50, 300))
    assert table.column("pages") == ["1", "3"]
    assert all(float(cell) > 0 for cell in table.column("ms/page"))


def test_reconciliation_settles_every_lost_answer_from_the_sent_report() -> None:
    table = reconciliation(recipients=600)
    assert table.column("send-sms calls") == ["2"]  # nothing sent twice
    assert table.column("report pages read") == ["2"]  # one look-up per call, by its own recipients
