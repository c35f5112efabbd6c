"""Every benchmark, repeated, side by side with its alternatives, written to ``benchmarks/RESULTS.md``.

``python -m benchmarks.results`` (what ``nox -s bench`` runs) imports each benchmark module listed
in :data:`REGISTRY`, runs its function ``repeats`` times, and writes one table per benchmark: each
numeric cell is the median over the runs with the spread (lowest to highest) beside it, and each
comparison adds a column with the ratio of that row to ours, computed within each run (so both
sides met the same machine load) and then taken as the median over runs. The header records the
machine, the Python version and the version of every library compared; a table of targets says,
for each target the issues set, the measured figure and whether it was met.

The measurement logic stays in the benchmark modules; this file only runs, aggregates and writes.
Runs are matched row by row, so a benchmark must list its rows in the same order every time.
A module or function that does not exist (yet) gives a "not measured" section, never a figure.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import Table

LIBRARIES = (
    "smsapi-async",
    "httpx",
    "httpcore",
    "anyio",
    "trio",
    "starlette",
    "uvicorn",
    "aiolimiter",
    "asyncio-throttle",
    "pyrate-limiter",
    "limits",
    "redis",
    "tenacity",
)
"""Libraries whose versions the header records (ours, its stack, and every alternative)."""

_NUMBER = re.compile(r"^\s*([-+]?(?:\d[\d,]*)?\.?\d+(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Comparison:
    """A ratio column: each row's ``column`` divided by our row's, within the same ``group``.

    ``ours`` matches our row by its first cell (exact, or a prefix ending in ``*``); ``group``
    names columns whose values must agree for two rows to be compared (e.g. the backend or rate).
    ``higher_is_better`` only words the column header.
    """

    column: str
    ours: str
    higher_is_better: bool
    group: tuple[str, ...] = ()

    def is_ours(self, label: str) -> bool:
        if self.ours.endswith("*"):
            return label.startswith(self.ours[:-1])
        return label == self.ours

    @property
    def header(self) -> str:
        return f"{self.column} ÷ ours ({'higher' if self.higher_is_better else 'lower'} is better)"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark function of a module, how to call it fully and quickly, and what to compare."""

    module: str
    function: str
    full: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()
    repeats: int | None = None  # None: the run's default; 1 for long runs measured inside
    needs_redis: bool = False  # called with url= of a redis-server started for the run
    about: str = ""  # what it measures and against what, when the module is missing

    @property
    def name(self) -> str:
        return f"{self.module.removeprefix('benchmarks.')}.{self.function}"


@dataclass
class Result:
    """A benchmark's aggregated table, or why there is none."""

    benchmark: Benchmark
    title: str = ""
    columns: tuple[str, ...] = ()
    cells: list[list[str]] = field(default_factory=list)  # formatted: median [low-high]
    values: list[list[float | None]] = field(default_factory=list)  # medians
    note: str = ""
    runs: int = 0
    seconds: float = 0.0
    missing: str = ""  # set when not measured

    def value(self, row: str, column: str) -> float | None:
        """The median of ``column`` in the row whose first cell is (or starts with, ``*``) ``row``."""
        index = self.columns.index(column)
        for cells, values in zip(self.cells, self.values, strict=True):
            label = cells[0]
            if label == row or (row.endswith("*") and label.startswith(row[:-1])):
                return values[index]
        raise KeyError(row)

    def rows_where(self, **equal: str) -> list[int]:
        """Indexes of the rows whose named columns hold exactly these texts."""
        wanted = [(self.columns.index(name.replace("_", " ")), text) for name, text in equal.items()]
        return [i for i, cells in enumerate(self.cells) if all(cells[c] == t for c, t in wanted)]


def parse_number(text: str) -> float | None:
    """The number a formatted cell shows (``"1,234"``, ``"98.5 %"``, ``"0.97"``), else ``None``."""
    match = _NUMBER.match(text)
    if match is None:
        return None
    return float(match.group(1).replace(",", ""))


def _format_like(example: str, value: float) -> str:
    """``value`` with the decimals, thousands separators and percent sign of ``example``."""
    match = _NUMBER.match(example)
    assert match is not None
    digits = match.group(1)
    decimals = len(digits.split(".")[1]) if "." in digits and "e" not in digits.lower() else 0
    text = f"{value:,.{decimals}f}" if "," in digits else f"{value:.{decimals}f}"
    if match.group(2):
        text += " %" if example.rstrip().endswith(" %") else "%"
    return text


def _cell(texts: Sequence[str]) -> tuple[str, float | None]:
    numbers = [parse_number(t) for t in texts]
    if any(n is None for n in numbers) or not numbers:
        return texts[0], None
    found = [n for n in numbers if n is not None]
    median = statistics.median(found)
    shown = _format_like(texts[0], median)
    low, high = _format_like(texts[0], min(found)), _format_like(texts[0], max(found))
    if len(found) > 1 and low != high:
        shown += f" [{low} to {high}]"
    return shown, median


def _ratio_column(runs: Sequence[Table], comparison: Comparison) -> list[str]:
    """Per row: the median over runs of (row's value / ours in the same group, same run)."""
    first = runs[0]
    column = first.columns.index(comparison.column)
    groups = [first.columns.index(name) for name in comparison.group]
    ratios: list[list[float]] = [[] for _ in first.rows]
    for table in runs:
        ours: dict[tuple[str, ...], float] = {}
        for row in table.rows:
            value = parse_number(row[column])
            if comparison.is_ours(row[0]) and value:
                ours.setdefault(tuple(row[g] for g in groups), value)
        for i, row in enumerate(table.rows):
            value = parse_number(row[column])
            base = ours.get(tuple(row[g] for g in groups))
            if value is not None and base:
                ratios[i].append(value / base)
    return [f"{statistics.median(r):.2f}" if r else "—" for r in ratios]


def aggregate(benchmark: Benchmark, runs: Sequence[Table], seconds: float) -> Result:
    """One table from repeated runs: median [spread] per numeric cell, plus the ratio columns."""
    first = runs[0]
    same_shape = [t for t in runs if t.columns == first.columns and len(t.rows) == len(first.rows)]
    cells: list[list[str]] = []
    values: list[list[float | None]] = []
    for r, row in enumerate(first.rows):
        texts, nums = [], []
        for c in range(len(first.columns)):
            shown, value = _cell([t.rows[r][c] for t in same_shape]) if c else (row[c], None)
            texts.append(shown)
            nums.append(value)
        cells.append(texts)
        values.append(nums)
    columns = list(first.columns)
    for comparison in benchmark.comparisons:
        if comparison.column not in first.columns:
            continue
        columns.append(comparison.header)
        for texts, nums, ratio in zip(cells, values, _ratio_column(same_shape, comparison), strict=True):
            texts.append(ratio)
            nums.append(parse_number(ratio))
    return Result(
        benchmark,
        title=first.title,
        columns=tuple(columns),
        cells=cells,
        values=values,
        note=first.note,
        runs=len(same_shape),
        seconds=seconds,
    )


def _find(name: str) -> Callable[..., Any] | str:
    """The benchmark function ``module.function``, or why it cannot be found."""
    module_name, _, function = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        return f"not measured: {exc}"
    found = getattr(module, function, None)
    return found if callable(found) else f"not measured: {module_name} has no {function}()"


def measure(benchmark: Benchmark, quick: bool, repeats: int, redis_url: Callable[[], str | None]) -> Result:
    """Run one benchmark ``repeats`` times (its own count if it has one) and aggregate the tables."""
    found = _find(f"{benchmark.module}.{benchmark.function}")
    if isinstance(found, str):
        return Result(benchmark, missing=found)
    kwargs = dict(benchmark.quick if quick else benchmark.full)
    if benchmark.needs_redis:
        url = redis_url()
        if url is None:
            return Result(benchmark, missing="not measured: redis-server is not installed")
        kwargs["url"] = url
    times = 1 if quick else (benchmark.repeats or repeats)
    runs: list[Table] = []
    started = time.perf_counter()
    try:
        for _ in range(times):
            table = found(**kwargs)
            if not isinstance(table, Table):
                return Result(benchmark, missing=f"not measured: {benchmark.name} returned {table!r}")
            runs.append(table)
    except Exception as exc:  # one broken benchmark must not lose the others
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Result(benchmark, missing=f"not measured: {benchmark.name} failed: {detail}")
    return aggregate(benchmark, runs, time.perf_counter() - started)


# --- the machine -----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(names: Sequence[str] = LIBRARIES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    server = shutil.which("redis-server")
    if server:
        out = subprocess.run([server, "--version"], capture_output=True, text=True, check=False).stdout
        match = re.search(r"v=(\S+)", out)
        found["redis-server"] = match.group(1) if match else out.strip()
    return found


def machine(shared_note: str) -> list[str]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    lines = [
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} "
        f"{platform.release()}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "when the run started",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        "- Libraries: " + ", ".join(f"{name} {version}" for name, version in versions().items()),
    ]
    if shared_note:
        lines.append(f"- {shared_note}")
    return lines


# --- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A target an issue set, checked against the results: ``check`` returns the measured figure
    and whether it is met (it raises ``KeyError``/``ValueError`` when the figure was not measured)."""

    issue: str
    text: str
    check: Callable[[Mapping[str, Result]], tuple[str, bool]]


def verdicts(targets: Sequence[Target], results: Mapping[str, Result]) -> list[tuple[str, str, str, str]]:
    rows = []
    for target in targets:
        try:
            figure, met = target.check(results)
        except (KeyError, ValueError, TypeError, IndexError):
            figure, verdict = "not measured", "—"
        else:
            verdict = "met" if met else "**not met**"
        rows.append((target.issue, target.text, figure, verdict))
    return rows


def result(results: Mapping[str, Result], name: str) -> Result:
    """The measured result ``name`` (``KeyError`` when it was not measured)."""
    found = results[name]
    if found.missing:
        raise KeyError(name)
    return found


def number(value: float | None) -> float:
    if value is None or math.isnan(value):
        raise ValueError("not a number")
    return value


# --- the report ------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> list[str]:
    """A Markdown table; the first ``text_columns`` align left, the figures right."""
    lines = ["| " + " | ".join(_escape(c) for c in columns) + " |"]
    aligns = [" --- "] * text_columns + [" ---: "] * (len(columns) - text_columns)
    lines.append("|" + "|".join(aligns) + "|")
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return lines


def report(
    results: Sequence[Result],
    targets: Sequence[Target],
    *,
    command: str,
    repeats: int,
    shared_note: str,
    started: datetime,
    seconds: float,
) -> str:
    by_name = {r.benchmark.name: r for r in results}
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{command}` on {started:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} minutes. Every "
        f"figure is the median of {repeats} runs unless a table says otherwise, with the lowest and "
        "highest run in brackets; a ratio column divides each row by ours *within the same run* "
        "(both sides met the same load) and shows the median of those ratios. Regenerate this file "
        "with `nox -s bench` (`python -m benchmarks.results`); `--quick` is the smoke run CI makes.",
        "",
        *machine(shared_note),
        "",
        "## Targets",
        "",
        *markdown_table(("issue", "target", "measured", "verdict"), verdicts(targets, by_name), 4),
        "",
    ]
    for r in results:
        lines.append(f"## {r.title or r.benchmark.name}")
        lines.append("")
        source = f"`{r.benchmark.module}.{r.benchmark.function}`"
        if r.missing:
            about = f" ({r.benchmark.about})" if r.benchmark.about else ""
            lines += [f"{source}{about}: {r.missing}.", ""]
            continue
        lines += [*markdown_table(r.columns, r.cells), ""]
        runs = "1 run" if r.runs == 1 else f"median of {r.runs} runs"
        note = f" {r.note}." if r.note else ""
        lines += [f"{source}, {runs}, {r.seconds:.0f} s in all.{note}", ""]
    return "\n".join(lines).rstrip() + "\n"


@contextmanager
def redis_for_the_run(stack: ExitStack) -> Iterator[Callable[[], str | None]]:
    """A function that starts one redis-server on first use (``None`` when none is installed)."""
    url: list[str | None] = []

    def get() -> str | None:
        if not url:
            if shutil.which("redis-server") is None:
                url.append(None)
            else:
                from ._redis import started_server  # noqa: PLC0415 -- only when a benchmark needs it

                directory = stack.enter_context(tempfile.TemporaryDirectory())
                server = started_server(Path(directory))
                stack.callback(server.stop)
                url.append(server.url)
        return url[0]

    yield get


def run(
    registry: Sequence[Benchmark],
    targets: Sequence[Target],
    *,
    quick: bool = False,
    repeats: int = 5,
    only: Sequence[str] = (),
    shared_note: str = "",
    command: str = "python -m benchmarks.results",
    progress: Callable[[str], object] = lambda line: print(line, file=sys.stderr, flush=True),
    partial: Callable[[str], object] = lambda text: None,
) -> str:
    """Run the benchmarks (those whose name contains one of ``only``, if given); the Markdown.

    ``partial`` gets the report so far after each benchmark (those not run yet say so), so an
    interrupted run still leaves what it measured."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    chosen = [b for b in registry if not only or any(part in b.name for part in only)]
    results: list[Result] = []

    def text() -> str:
        waiting = [
            Result(b, missing="not measured: the run stopped before it") for b in chosen[len(results) :]
        ]
        return report(
            [*results, *waiting],
            targets,
            command=command + (" --quick" if quick else ""),
            repeats=1 if quick else repeats,
            shared_note=shared_note,
            started=started,
            seconds=time.perf_counter() - clock,
        )

    with ExitStack() as stack, redis_for_the_run(stack) as redis_url:
        for benchmark in chosen:
            progress(f"{benchmark.name} ...")
            found = measure(benchmark, quick, repeats, redis_url)
            progress(f"{benchmark.name}: {found.missing or f'{found.seconds:.1f} s'}")
            results.append(found)
            partial(text())
    return text()
