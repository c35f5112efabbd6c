"""``python -m benchmarks.results``: repeated runs aggregate to median [spread], ratios are taken
within each run, a missing or broken benchmark says "not measured" instead of a figure, and the
peers' benchmarks (``benchmarks/peers.py``) run in their ``--quick`` form so they never rot.

No timing figure is checked: those belong to RESULTS.md, not to tests.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiolimiter")
pytest.importorskip("asyncio_throttle")
pytest.importorskip("pyrate_limiter")
pytest.importorskip("tenacity")

from benchmarks import Table, lanes, peers
from benchmarks._results import Benchmark, Comparison, Target, aggregate, measure, parse_number, report, run
from benchmarks.results import REGISTRY, TARGETS, main


def table(*rows: tuple[str, ...]) -> Table:
    return Table("Speed", ("who", "rate", "ops/s", "share"), rows)


def test_numbers_are_read_as_shown() -> None:
    assert parse_number("1,234") == 1234
    assert parse_number("98.5 %") == 98.5
    assert parse_number("0.97") == 0.97
    assert parse_number("-3") == -3
    for text in ("gave up", "RateLimiter(2)", "—", "", "1.2.3", "nan"):
        assert parse_number(text) is None


def test_cells_become_median_and_spread_and_ratios_are_per_run() -> None:
    runs = [
        table(("ours", "2", "100", "99.0 %"), ("theirs", "2", "50", "90.0 %")),
        table(("ours", "2", "200", "99.4 %"), ("theirs", "2", "150", "91.0 %")),
        table(("ours", "2", "300", "99.2 %"), ("theirs", "2", "100", "92.0 %")),
    ]
    bench = Benchmark("m", "f", comparisons=(Comparison("ops/s", "ours", higher_is_better=True),))
    result = aggregate(bench, runs, seconds=1.0)
    assert result.columns[-1] == "ops/s ÷ ours (higher is better)"
    assert result.cells[0][:4] == ["ours", "2", "200 [100 to 300]", "99.2 % [99.0 % to 99.4 %]"]
    assert result.cells[1][2] == "100 [50 to 150]"
    assert result.cells[1][-1] == "0.50"  # per run: 0.50, 0.75, 0.33
    assert result.value("theirs", "ops/s") == 100
    assert result.runs == 3


def test_ratio_is_the_median_of_per_run_ratios_not_the_ratio_of_medians() -> None:
    runs = [
        table(("ours", "2", "100", "1"), ("theirs", "2", "100", "1")),
        table(("ours", "2", "100", "1"), ("theirs", "2", "300", "1")),
        table(("ours", "2", "400", "1"), ("theirs", "2", "400", "1")),
    ]
    bench = Benchmark("m", "f", comparisons=(Comparison("ops/s", "ours", higher_is_better=True),))
    result = aggregate(bench, runs, seconds=1.0)
    assert result.cells[1][-1] == "1.00"  # per-run ratios 1, 3, 1; medians would say 300 / 100 = 3


def test_ratios_compare_rows_of_the_same_group_only() -> None:
    runs = [
        table(
            ("ours", "2", "2", "1"),
            ("theirs", "2", "1", "1"),
            ("ours", "15", "15", "1"),
            ("theirs", "15", "30", "1"),
        )
    ]
    comparison = Comparison("ops/s", "ours", higher_is_better=True, group=("rate",))
    result = aggregate(Benchmark("m", "f", comparisons=(comparison,)), runs, seconds=1.0)
    assert [row[-1] for row in result.cells] == ["1.00", "0.50", "1.00", "2.00"]


def test_missing_module_function_or_failure_is_not_measured_never_a_figure() -> None:
    no_redis: Any = lambda: None  # noqa: E731
    assert "not measured" in measure(Benchmark("benchmarks.nowhere", "f"), False, 1, no_redis).missing
    assert "has no" in measure(Benchmark("benchmarks.peers", "nothing"), False, 1, no_redis).missing
    failing = measure(Benchmark("benchmarks.peers", "acquire_cost", full={"bogus": 1}), False, 1, no_redis)
    assert failing.missing.startswith("not measured: peers.acquire_cost failed: TypeError")
    text = report(
        [failing],
        [Target("#0", "goal", lambda results: ("1", True))],
        command="x",
        repeats=1,
        shared_note="",
        started=datetime(2026, 1, 1),
        seconds=1.0,
    )
    assert "not measured: peers.acquire_cost failed" in text
    assert "| #0 | goal | 1 | met |" in text


def test_targets_on_missing_results_say_not_measured() -> None:
    text = report(
        [],
        TARGETS,
        command="x",
        repeats=1,
        shared_note="",
        started=datetime(2026, 1, 1),
        seconds=1.0,
    )
    assert text.count("| not measured | — |") == len(TARGETS)


def test_every_registered_benchmark_has_a_quick_form() -> None:
    names = [b.name for b in REGISTRY]
    assert len(names) == len(set(names))
    for bench in REGISTRY:
        assert bench.quick or bench.module == "benchmarks.client", bench.name


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One quick run of the cheap benchmarks through the harness, written as RESULTS.md is."""
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    assert main(["--quick", "--only", "acquire_cost", "--only", "peers.crowd", "-o", str(out)]) == 0
    return Path(out).read_text()


def test_quick_run_writes_machine_versions_targets_and_tables(quick_report: str) -> None:
    assert quick_report.startswith("# Benchmark results")
    for needle in ("- Machine: ", "logical cores", "- Python 3.", "aiolimiter ", "asyncio-throttle "):
        assert needle in quick_report
    assert "shared 2-core machine" in quick_report
    assert "## Uncontended acquire against the peers (asyncio)" in quick_report
    assert "ns/op ÷ ours (lower is better)" in quick_report
    # targets of benchmarks not run here are "not measured", those run have a verdict
    lines = [line for line in quick_report.splitlines() if line.startswith("| #")]
    assert len(lines) == len(TARGETS)
    assert any("uncontended acquire" in line and ("| met |" in line or "not met" in line) for line in lines)


def test_peers_quick_tables_have_every_contender() -> None:
    everyone = ["smsapi_async.RateLimiter", *peers.PEERS]
    cost = peers.acquire_cost(ops=200, repeats=1)
    assert cost.column("contender")[1:] == everyone
    crowd = peers.crowd(waiters=50)
    assert crowd.column("limiter") == everyone
    assert all(float(b.replace(",", "")) > 0 for b in crowd.column("B/waiter"))
    windows = peers.conformance(seconds=0.6, rates=(15, 2), workers=4)
    assert windows.column("limiter") == everyone * 2  # a fixed order: runs are matched row by row
    assert windows.column("rate") == ["15"] * 4 + ["2"] * 4
    ours = windows.rows[windows.column("limiter").index("smsapi_async.RateLimiter")]
    assert int(ours[windows.columns.index("most in any 1 s")]) <= 15  # a property, not a timing


def test_contention_drains_every_contender_at_each_rate() -> None:
    result = peers.contention(waiters=40, rates=(2_000.0,))
    assert result.column("limiter") == ["smsapi_async.RateLimiter", *peers.PEERS]
    assert all(cell != "gave up" for cell in result.column("wall / ideal"))


def test_lanes_benchmarks_run_through_the_client_against_the_served_sandbox() -> None:
    otp = lanes.otp_latency(queued=6, otps=1, settle=0.2)  # a 429 here is resent: still a figure
    assert otp.column("client") == [lanes.LANES, lanes.FIFO, lanes.HAND] * 2
    assert all(float(ms) > 0 for ms in otp.column("OTP call ms (max)"))
    found = lanes.discovery(true_rates=(4,), seconds=4.0)
    assert found.column("true rate") == ["4"]
    assert found.column("s to 90 % of it") != ["not reached"]


def test_peers_jitter_runs_both_clients_against_the_served_sandbox() -> None:
    result = peers.jitter(seconds=0.5, rates=(15,), jitters=(0.005,), callers=5)
    assert result.column("client") == list(peers.CLIENTS)
    assert all(float(ok) > 0 for ok in result.column("ok/s"))


def test_import_time_is_relative_to_httpx() -> None:
    result = peers.import_time(repeats=1, rows=("import smsapi_async",))
    assert result.column("import") == ["import httpx", "import smsapi_async"]
    assert result.column("÷ import httpx")[0] == "1.00"


def test_results_module_runs_the_registry_it_is_given(tmp_path: Path) -> None:
    calls = itertools.count()

    def progress(line: str) -> None:
        next(calls)

    text = run(
        [Benchmark("benchmarks.peers", "import_time", quick={"repeats": 1, "rows": ()})],
        [],
        quick=True,
        progress=progress,
    )
    assert "## Import time in a fresh interpreter" in text
    assert next(calls) == 2  # started, finished
