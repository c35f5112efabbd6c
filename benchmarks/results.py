"""``python -m benchmarks.results [--quick] [--repeats N] [--only NAME] [-o FILE]``: every benchmark,
repeated, with the ratio against each alternative, written to ``benchmarks/RESULTS.md``.

``nox -s bench`` runs this. The registry below lists each benchmark function of each module and
what its rows are compared with; the targets are those the issues set. The runner is in
``_results.py``; the measurements stay in their own modules.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._results import Benchmark, Comparison, Result, Target, number, result
from ._results import run as run_all

__all__ = ["REGISTRY", "TARGETS", "main"]

PEERS = ("aiolimiter.AsyncLimiter", "asyncio_throttle.Throttler", "pyrate_limiter.Limiter")
OUTPUT = Path(__file__).with_name("RESULTS.md")
SHARED_MACHINE = (
    "Produced on a shared 2-core machine while other work ran on it: absolute figures are noisy; "
    "the ratios, measured within each run, are the figures to compare"
)

REGISTRY: tuple[Benchmark, ...] = (
    # --- the in-process limiter (#7) against aiolimiter, asyncio-throttle, pyrate-limiter
    Benchmark(
        "benchmarks.limiter",
        "acquire_cost",
        quick={"ops": 5_000, "repeats": 1},
        comparisons=(Comparison("ns/op", "RateLimiter", higher_is_better=False),),
    ),
    Benchmark(
        "benchmarks.peers",
        "acquire_cost",
        quick={"ops": 2_000},
        comparisons=(Comparison("ns/op", "smsapi_async.RateLimiter", higher_is_better=False),),
        about="uncontended acquire against aiolimiter, asyncio-throttle and pyrate-limiter",
    ),
    Benchmark(
        "benchmarks.peers",
        "conformance",
        quick={"seconds": 1.1},
        repeats=3,
        comparisons=(
            Comparison("% of rate", "smsapi_async.RateLimiter", higher_is_better=True, group=("rate",)),
        ),
        about="window conformance, FIFO order and cancellation of each limiter",
    ),
    Benchmark(
        "benchmarks.peers",
        "crowd",
        quick={"waiters": 300},
        repeats=2,
        comparisons=(
            Comparison("B/waiter", "smsapi_async.RateLimiter", higher_is_better=False),
            Comparison("CPU µs/waiter", "smsapi_async.RateLimiter", higher_is_better=False),
        ),
        about="10 000 waiters: memory and CPU per waiter of each limiter",
    ),
    Benchmark(
        "benchmarks.peers",
        "contention",
        quick={"waiters": 300},
        repeats=3,
        comparisons=(
            Comparison("CPU µs/grant", "smsapi_async.RateLimiter", higher_is_better=False, group=("rate",)),
        ),
        about="CPU per grant and wall time draining 2 000 waiters at 1 000/s and 5 000/s",
    ),
    # --- lanes and rate discovery (#23), through the client against a served sandbox
    Benchmark(
        "benchmarks.lanes",
        "otp_latency",
        quick={"queued": 10, "otps": 1},
        repeats=1,
        about="an OTP's wait while the account is busy: interactive lane, one lane, httpx + aiolimiter",
    ),
    Benchmark(
        "benchmarks.lanes",
        "discovery",
        quick={"true_rates": (5,), "seconds": 8.0},
        repeats=1,
        about="rate discovery from 2/s: time to 90 % of the true rate and the 429s it costs",
    ),
    Benchmark("benchmarks.limiter", "many_waiters", quick={"waiters": 300, "rate": 50_000.0}, repeats=3),
    Benchmark(
        "benchmarks.limiter",
        "saturated",
        quick={"seconds": 1.1},
        repeats=3,
        comparisons=(
            Comparison("throughput % of rate", "RateLimiter(*", higher_is_better=True, group=("limit",)),
        ),
    ),
    Benchmark("benchmarks.limiter", "virtual_windows", quick={"grants": 200}, repeats=1),
    Benchmark("benchmarks.limiter", "strict_server", quick={"requests": 200}, repeats=1),
    # --- the client: transport overhead, and end to end against a strict server over a socket (#7)
    Benchmark("benchmarks.client", "client_overhead", quick={"calls": 100, "repeats": 1}),
    Benchmark(
        "benchmarks.peers",
        "jitter",
        full={"seconds": 20.0},
        quick={"seconds": 1.0, "rates": (15,), "jitters": (0.02,)},
        repeats=1,
        comparisons=(
            Comparison("ok/s", "AsyncSmsClient", higher_is_better=True, group=("rate", "jitter ms")),
        ),
        about="throughput and 429s of the client against httpx + aiolimiter + tenacity, over a socket",
    ),
    Benchmark("benchmarks.peers", "import_time", quick={"repeats": 2}, repeats=1, about="import cost"),
    # --- bulk sends (#11) against the naive asyncio.gather loop
    Benchmark(
        "benchmarks.bulk",
        "calls_for_one_text",
        quick={"recipients": 1_200, "naive_recipients": 50},
        repeats=1,
        comparisons=(Comparison("calls per 100 000", "send_bulk", higher_is_better=False),),
    ),
    Benchmark(
        "benchmarks.bulk",
        "wall_time",
        quick={"rate": 15.0, "calls": 8, "naive_recipients": 8},
        repeats=2,
        comparisons=(Comparison("recipients/s", "send_bulk", higher_is_better=True),),
    ),
    Benchmark(
        "benchmarks.bulk",
        "resume_cost",
        quick={"recipients": 5_000, "killed_at": 5},
        repeats=1,
    ),
    Benchmark(
        "benchmarks.bulk",
        "peak_memory",
        quick={"recipients": 2_000, "naive_recipients": 200},
        repeats=1,
        comparisons=(Comparison("bytes per recipient", "send_bulk", higher_is_better=False),),
    ),
    # --- callbacks (#10)
    Benchmark(
        "benchmarks.webhooks",
        "callback_cost",
        quick={"ops": 500, "requests": 50},
        comparisons=(Comparison("µs", "verify_signature*", higher_is_better=False),),
    ),
    # --- the sandbox's --db file (#9)
    Benchmark(
        "benchmarks.sandbox_persist",
        "persist_cost",
        quick={"sizes": (10, 1_000), "rounds": 3},
        repeats=3,
        about="per-call save cost of the sandbox's --db with 10, 1 000 and 10 000 messages stored",
    ),
    # --- the sandbox's reporting calls (#9): a page costs O(page), so reconciliation scales
    Benchmark("benchmarks.sandbox", "report_walk", quick={"sizes": (200, 1_000)}, repeats=1),
    Benchmark("benchmarks.sandbox", "reconciliation", quick={"recipients": 1_000}, repeats=1),
    # --- the shared limiter (#12) against pyrate-limiter's and limits' Redis strategies
    Benchmark(
        "benchmarks.shared_limiter",
        "grant_cost",
        quick={"grants": 100},
        repeats=3,
        needs_redis=True,
        comparisons=(
            Comparison(
                "µs per grant, one caller", "RedisRateLimiter (redis.asyncio)", higher_is_better=False
            ),
            Comparison("grants/s, 50 callers", "RedisRateLimiter (redis.asyncio)", higher_is_better=True),
        ),
    ),
    Benchmark(
        "benchmarks.shared_limiter",
        "conformance",
        quick={"seconds": 1.0},
        repeats=1,
        needs_redis=True,
    ),
)


# --- targets -------------------------------------------------------------------------------------


def _acquire_vs_fastest_peer(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "peers.acquire_cost")
    column = r.columns.index("ns/op")
    ours = number(r.value("smsapi_async.RateLimiter", "ns/op"))
    peers = {c[0]: number(v[column]) for c, v in zip(r.cells, r.values, strict=True) if c[0] in PEERS}
    name = min(peers, key=peers.__getitem__)
    return f"{ours:.0f} ns vs {name} {peers[name]:.0f} ns ({ours / peers[name]:.2f}x)", ours <= peers[name]


def _waiter_memory(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "peers.crowd")
    ours = number(r.value("smsapi_async.RateLimiter", "B/waiter"))
    theirs = number(r.value("aiolimiter.AsyncLimiter", "B/waiter"))
    return f"{ours:,.0f} B vs aiolimiter {theirs:,.0f} B per waiter", ours <= theirs


def _import_time(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "peers.import_time")
    ratio = number(r.value("AsyncSmsClient(...) constructed", "÷ import httpx"))
    return f"{ratio:.2f}x import httpx (import + AsyncSmsClient constructed)", ratio <= 1.3


def _jitter(jitter: str, zero_429s: bool) -> Target:
    def check(results: Mapping[str, Result]) -> tuple[str, bool]:
        r = result(results, "peers.jitter")
        figures, met = [], True
        for i in r.rows_where(client="AsyncSmsClient", jitter_ms=jitter):
            rate = r.cells[i][r.columns.index("rate")]
            rejected = number(r.values[i][r.columns.index("429 %")])
            share = number(r.values[i][r.columns.index("% of optimum")])
            figures.append(f"{rate}/s: {share:.1f} % of optimum, {rejected:.1f} % 429")
            met &= (rejected == 0 and share >= 99) if zero_429s else (rejected <= 2 and share >= 92)
        if not figures:
            raise KeyError(jitter)
        return "; ".join(figures), met

    text = (
        f"jitter {jitter} ms: zero 429s and >= 99 % of the rate through the client"
        if zero_429s
        else f"jitter {jitter} ms: <= 2 % 429s and >= 92 % of rate / (1 + J)"
    )
    return Target("#7", text, check)


def _overhead(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "client.client_overhead")
    columns = [r.columns.index(name) for name in ("ratio", "ratio with limiter") if name in r.columns]
    ratios = [number(v[c]) for v in r.values for c in columns]
    return f"lowest ratio {min(ratios):.2f} of raw httpx calls/s", min(ratios) >= 0.8


def _bulk_calls(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "bulk.calls_for_one_text")
    calls, minimum = r.value("send_bulk", "calls"), r.value("send_bulk", "minimum")
    recipients = number(r.value("send_bulk", "recipients"))
    return (
        f"{number(calls):,.0f} calls for {recipients:,.0f} (minimum {number(minimum):,.0f})",
        calls == minimum,
    )


def _bulk_wall(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "bulk.wall_time")
    share = number(r.value("send_bulk", "of ideal"))
    return f"{share:.1f} % of calls / rate", share >= 95


def _bulk_memory(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "bulk.peak_memory")
    peak, recipients = number(r.value("send_bulk", "peak RSS MB")), r.value("send_bulk", "recipients")
    if recipients != 1e6:
        raise ValueError("measured for another size (a --quick run)")
    return f"{peak:.0f} MB peak RSS for 1 000 000 recipients", peak <= 150


def _bulk_resume(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "bulk.resume_cost")
    lookups, recipients = number(r.value("rerun*", "look-ups")), r.value("rerun*", "recipients")
    if recipients != 1e5:
        raise ValueError("measured for another size (a --quick run)")
    return f"{lookups:.0f} look-ups to settle the calls in flight at 100 000 recipients", lookups <= 10


def _fleet(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "shared_limiter.conformance")
    [column] = [c for c in r.columns if c.startswith("most in any 1 s")]
    most = number(r.value("RedisRateLimiter (redis.asyncio)", column))
    limit = int(column.rsplit(" ", 1)[-1].rstrip(")"))
    return f"{most:.0f} in the busiest second (limit {limit})", most <= limit


def _window(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "limiter.virtual_windows")
    over = [
        c[0]
        for c, v in zip(r.cells, r.values, strict=True)
        if "safety_margin=0" not in c[0]
        and number(v[r.columns.index("max in any 1 s")]) > number(v[r.columns.index("limit")])
    ]
    return ("every default limiter within its rate" if not over else f"over: {', '.join(over)}"), not over


def _sandbox_save(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "sandbox_persist.persist_cost")
    few = [number(r.value("10", c)) for c in ("records per call", "bytes per call")]
    many = [number(r.value("10,000", c)) for c in ("records per call", "bytes per call")]
    ms = number(r.value("10,000", "ms per save"))
    return f"{many[0]:.1f} records, {many[1]:,.0f} bytes, {ms:.2f} ms per save at 10 000", few == many


CONTENTION_TARGET_RATE = 1000.0
"""The rate #23 sets the contention target at."""


def _contention(results: Mapping[str, Result]) -> tuple[str, bool]:
    """#23's target is the 1 000/s row: CPU within 2x the cheapest peer's, wall within 1.1x ideal.
    The 5 000/s row is shown beside it, held to the wall bound only: there the peers let all 2 000
    callers through at once (a burst of up to 5 000), so nobody waits and their CPU is the tasks'."""
    r = result(results, "peers.contention")
    cpu, wall = r.columns.index("CPU µs/grant"), r.columns.index("wall / ideal")
    figures, met = [], True
    for rate in dict.fromkeys(cells[1] for cells in r.cells):
        rows = r.rows_where(rate=rate)
        ours = next(i for i in rows if r.cells[i][0] == "smsapi_async.RateLimiter")
        cheapest = min(number(r.values[i][cpu]) for i in rows if r.cells[i][0] in PEERS)
        ratio, ideal = number(r.values[ours][cpu]) / cheapest, number(r.values[ours][wall])
        target = float(rate) == CONTENTION_TARGET_RATE
        figures.append(
            f"{rate}/s{'' if target else ' (no waiting for the peers)'}: {ratio:.2f}x the cheapest "
            f"peer's CPU, {ideal:.2f}x ideal"
        )
        met &= ideal <= 1.1 and (ratio <= 2 or not target)
    return "; ".join(figures), met


def _otp_latency(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "lanes.otp_latency")
    column = r.columns.index("OTP call ms (max)")
    rows = r.rows_where(client="AsyncSmsClient, OTP in the interactive lane")
    worst = max(number(r.values[i][column]) for i in rows)
    before = max(
        number(r.values[i][column]) for i in r.rows_where(client="AsyncSmsClient, one lane (arrival order)")
    )
    rate = float(r.title.rsplit(" at ", 1)[1].split(" ")[0])
    bound = 2000 / rate + 100  # two intervals (the grant in progress, then ours) and the request
    return f"{worst:.0f} ms at worst (one lane: {before:.0f} ms; bound {bound:.0f} ms)", worst <= bound


def _discovery(results: Mapping[str, Result]) -> tuple[str, bool]:
    r = result(results, "lanes.discovery")
    column = r.columns.index("s to 90 % of it")
    figures, met = [], True
    for cells, values in zip(r.cells, r.values, strict=True):
        reached = values[column]
        figures.append(f"{cells[0]}/s in {cells[column]} s, {cells[r.columns.index('429s')]} 429s")
        met &= reached is not None and reached <= 60
    return "; ".join(figures), met


TARGETS: tuple[Target, ...] = (
    Target("#7", "uncontended acquire no slower than the fastest peer", _acquire_vs_fastest_peer),
    Target("#7", "memory per waiter no more than aiolimiter's", _waiter_memory),
    Target("#7", "import smsapi_async at most 1.3x import httpx", _import_time),
    Target("#7", "no 1-second window over the rate (virtual time)", _window),
    _jitter("0", zero_429s=True),
    _jitter("5", zero_429s=True),
    _jitter("20", zero_429s=False),
    _jitter("50", zero_429s=False),
    Target("#7", "client.call at least 0.80x raw httpx calls/s", _overhead),
    Target("#11", "calls for one text = ceil(N / 500)", _bulk_calls),
    Target("#11", "bulk wall time >= 95 % of the ideal calls / rate", _bulk_wall),
    Target("#11", "<= 150 MB peak for 1 000 000 streamed recipients", _bulk_memory),
    Target("#20", "a resume with calls in flight costs at most 10 look-ups at 100 000", _bulk_resume),
    Target("#12", "4 processes on one account stay within its rate", _fleet),
    Target("#9", "sandbox --db: a call writes as much at 10 000 messages stored as at 10", _sandbox_save),
    Target(
        "#23",
        "contention at 1 000/s: CPU per grant <= 2x the cheapest peer; wall <= 1.1x ideal at each rate",
        _contention,
    ),
    Target("#23", "an interactive OTP waits <= 2 intervals + 100 ms while the account is busy", _otp_latency),
    Target("#23", "rate discovery from 2/s reaches 90 % of the true rate within 60 s", _discovery),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.results", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short run of each (the CI smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per benchmark (default 5)")
    parser.add_argument("--only", action="append", default=[], help="benchmarks whose name contains this")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help=f"default {OUTPUT}")
    args = parser.parse_args(argv)
    if args.repeats < 1 or math.isnan(args.repeats):
        parser.error("--repeats must be >= 1")
    text = run_all(
        REGISTRY,
        TARGETS,
        quick=args.quick,
        repeats=args.repeats,
        only=args.only,
        shared_note=SHARED_MACHINE,
        partial=lambda so_far: args.output.write_text(so_far, encoding="utf-8"),
    )
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    missing = [line for line in text.splitlines() if ": not measured: " in line]
    for line in missing:  # a benchmark that could not run is a failed run, not a shorter file
        print(line, file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
