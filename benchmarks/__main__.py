"""Run every benchmark and print its table: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import time
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table as RichTable

from . import Table
from .client import client_overhead
from .limiter import acquire_cost, many_waiters, saturated, strict_server, virtual_windows, waiter_memory
from .pacing import jittery_server
from .peers import import_time


def benchmarks(quick: bool) -> list[Callable[[], Table]]:
    """The benchmarks to run; ``quick`` shrinks each to a smoke test of a fraction of a second."""
    if quick:
        return [
            lambda: acquire_cost(ops=5_000, repeats=1),
            lambda: many_waiters(waiters=300, rate=50_000.0),
            lambda: saturated(seconds=1.1),
            lambda: virtual_windows(grants=200),
            lambda: strict_server(requests=200),
            lambda: client_overhead(calls=100, repeats=1),
            lambda: waiter_memory(waiters=300),
            lambda: jittery_server(seconds=1.0, cases=((15, 0.02),)),
            lambda: import_time(repeats=1),
        ]
    return [
        acquire_cost,
        many_waiters,
        waiter_memory,
        saturated,
        virtual_windows,
        strict_server,
        client_overhead,
        jittery_server,
        import_time,
    ]


def render(table: Table, console: Console, seconds: float) -> None:
    """Print one result as a rich table."""
    out = RichTable(title=table.title, caption=f"{table.note} ({seconds:.1f} s)".lstrip())
    out.add_column(table.columns[0])
    for name in table.columns[1:]:
        out.add_column(name, justify="right")
    for row in table.rows:
        out.add_row(*row)
    console.print(out)


def run(quick: bool = False, console: Console | None = None) -> list[Table]:
    """Run the benchmarks, print each table as it is done, and return them."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # e.g. under nox: rich would assume 80 columns
            console.width = 150
    tables = []
    for bench in benchmarks(quick):
        started = time.perf_counter()
        table = bench()
        render(table, console, time.perf_counter() - started)
        tables.append(table)
    return tables


def machine() -> list[str]:
    """Where and with what the figures were measured."""

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    dists = ["smsapi-async", "httpx", "anyio", "trio", "aiolimiter", "asyncio-throttle", "pyrate-limiter"]
    return [
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- load average when the run started: {load:.2f}",
        "- versions: " + ", ".join(f"{dist} {version(dist)}" for dist in dists),
    ]


def markdown(tables: Sequence[Table], header: Sequence[str]) -> str:
    """The tables as a markdown document (what ``--markdown`` writes)."""
    lines = ["# Benchmark results", "", "Written by `python -m benchmarks --markdown`.", "", *header, ""]
    for table in tables:
        lines += [f"## {table.title}", "", "| " + " | ".join(table.columns) + " |"]
        lines.append("|" + "---|" * len(table.columns))
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        lines += ["", table.note, ""] if table.note else [""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (a few seconds)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the tables to PATH as markdown")
    args = parser.parse_args(argv)
    header = machine()
    tables = run(quick=args.quick)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(markdown(tables, header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
