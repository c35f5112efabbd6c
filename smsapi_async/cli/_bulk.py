"""``smsapi bulk``: a CSV file to every recipient, in the fewest calls, resumably."""

from __future__ import annotations

import bisect
import csv
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._analysis import render_placeholders
from .._bulk import BulkProgress, BulkResult
from .._client import AsyncSmsClient
from ._app import (
    _TO_COLUMNS,
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    _emit,
    _fail,
    _run,
    _say,
    _Settings,
    cli,
)


class _Lines:
    """Where each fed row starts in the file, stored only where the row/line offset changes."""

    def __init__(self) -> None:
        self._indexes: list[int] = []
        self._lines: list[int] = []

    def record(self, index: int, line: int) -> None:
        if not self._indexes or line - index != self._lines[-1] - self._indexes[-1]:
            self._indexes.append(index)
            self._lines.append(line)

    def line(self, index: int) -> int:
        at = bisect.bisect_right(self._indexes, index) - 1
        return self._lines[at] + index - self._indexes[at]


def _decoded_lines(raw: IO[bytes], bad: Callable[[int, str], None]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is reported and left out (as an empty line,
    so line numbers stay right)."""
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            bad(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            yield "\n"
            continue
        yield text


def _valid_csv(reader: csv.DictReader[str], path: Path) -> Iterator[dict[str | Any, Any]]:
    """The reader's rows; a line the csv module cannot read (e.g. a bare carriage return in an
    unquoted field) stops the run with exit code 2 and its line number, not a traceback."""
    try:
        yield from reader
    except csv.Error as exc:
        _fail(EXIT_BAD_INPUT, f"{path}: line {reader.line_num + 1}: not valid CSV ({exc})")


def _count_rows(path: Path) -> int | None:
    """Lines after the header (a quick estimate of the rows, for the progress bar)."""
    try:
        count = 0
        with path.open("rb") as raw:
            while chunk := raw.read(1 << 20):
                count += chunk.count(b"\n")
        return max(0, count - 1)
    except OSError:
        return None


@cli.command()
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-m", "--message", help='Text for every row; [column] placeholders are filled per row ("Hi [firstname]").'
)
@click.option("--column", help="Take each row's text from this column instead.")
@click.option("--to-column", help="Column of the numbers (default: to, mobile, msisdn, number or phone).")
@click.option("--from", "from_", help="Sender for every row (a 'from' column overrides it).")
@click.option("--countrycode", help="Country of local numbers, e.g. AU.")
@click.option(
    "--journal", type=click.Path(dir_okay=False, path_type=Path), help="Resumable journal (SQLite)."
)
@click.option("--batch-size", type=click.IntRange(1, 500), default=500, show_default=True)
@click.option("--max-parts", type=click.IntRange(1, 10), help="Reject rows whose text takes more parts.")
@click.option(
    "--optouts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of opted-out numbers.",
)
@click.option("--reconcile/--no-reconcile", default=True, show_default=True, help="Settle unknown outcomes.")
@click.option(
    "--report", type=click.Path(dir_okay=False, path_type=Path), help="Write every recipient's result (CSV)."
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_obj
def bulk(  # noqa: PLR0917
    settings: _Settings,
    csv_file: Path,
    message: str | None,
    column: str | None,
    to_column: str | None,
    from_: str | None,
    countrycode: str | None,
    journal: Path | None,
    batch_size: int,
    max_parts: int | None,
    optouts: Path | None,
    reconcile: bool,
    report: Path | None,
    no_progress: bool,
) -> None:
    """Send to every row of CSV_FILE (UTF-8, with a header), in the fewest calls, resumably.

    Rows with a bad number, empty text or bad encoding are reported with their line numbers and
    the rest proceeds. The file is streamed: any size works.
    """
    if (message is None) == (column is None):
        _say(settings.err, "error", "give exactly one of --message and --column")
        sys.exit(EXIT_BAD_INPUT)
    opted_out: set[str] = set()
    if optouts is not None:
        opted_out = {
            line.strip().lstrip("+") for line in optouts.read_text("utf-8").splitlines() if line.strip()
        }
    lines = _Lines()
    problems: list[dict[str, Any]] = []
    counts = {"sent": 0, "rejected": 0, "failed": 0, "unknown": 0, "unreadable": 0}

    def bad(line: int, reason: str) -> None:
        counts["unreadable"] += 1
        if len(problems) < 1000:
            problems.append({"line": line, "to": "", "status": "unreadable", "reason": reason})
        settings.err.print(f"line {line}: {reason}", highlight=False, markup=False)

    def rows(raw: IO[bytes]) -> Iterator[dict[str, str]]:
        reader = csv.DictReader(_decoded_lines(raw, bad))
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            _fail(EXIT_BAD_INPUT, f"{csv_file}: line {reader.line_num + 1}: not valid CSV ({exc})")
        to_key = to_column or next((c for c in header if c.strip().lower() in _TO_COLUMNS), None)
        if to_key is None or to_key not in header:
            _fail(
                EXIT_BAD_INPUT,
                f"{csv_file}: no column of numbers ({to_column or ' / '.join(_TO_COLUMNS)}) in the header",
            )
        if column is not None and column not in header:
            _fail(EXIT_BAD_INPUT, f"{csv_file}: no column {column!r} in the header")
        index = 0
        for row in _valid_csv(reader, csv_file):
            if not any(isinstance(v, str) and v.strip() for v in row.values()):
                continue  # blank (an unreadable line was reported already and reads as blank)
            # the row ends at line_num; quoted fields may span lines
            line = reader.line_num - sum(v.count("\n") for v in row.values() if isinstance(v, str))
            lines.record(index, line)
            index += 1
            values = {k: (v or "") for k, v in row.items() if k is not None}
            text = (
                values.get(column, "") if column is not None else render_placeholders(message or "", values)
            )
            item = {"message": text, "to": values.get(to_key, "")}
            sender = values.get("from") or values.get("from_") or from_
            if sender:
                item["from_"] = sender
            if countrycode:
                item["countrycode"] = countrycode
            yield item

    progress = Progress(
        TextColumn("[bold]bulk"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=settings.err,
        disable=no_progress or settings.output == "json",
        transient=False,
    )
    expected = _count_rows(csv_file)
    task = progress.add_task("bulk", total=expected, detail="")

    def on_progress(p: BulkProgress) -> None:
        detail = f"{p.calls} calls, {p.rate:.1f}/s, {p.rate_limited} x 429, {p.failed + p.unknown} not sent"
        progress.update(task, completed=p.done, detail=detail)

    async def work(client: AsyncSmsClient) -> int:
        writer = None
        report_file = report.open("w", newline="", encoding="utf-8") if report is not None else None
        if report_file is not None:
            writer = csv.writer(report_file)
            writer.writerow(["line", "to", "number", "status", "message_id", "reason"])
        try:
            with csv_file.open("rb") as raw, progress:
                sender = client.sms.send_bulk(
                    rows(raw),
                    journal=journal,
                    batch_size=batch_size,
                    max_parts=max_parts,
                    optouts=opted_out or None,
                    reconcile=reconcile,
                    reconcile_delay=5.0,
                    total=expected,
                    on_progress=on_progress,
                )
                async with sender as results:
                    async for result in results:
                        _record(result)
                        if writer is not None:
                            line = lines.line(result.index)
                            writer.writerow(
                                [
                                    line,
                                    result.to,
                                    result.number or "",
                                    result.status,
                                    result.message_id or "",
                                    result.reason,
                                ]
                            )
                final = sender.progress
                progress.update(task, total=final.done)  # the line count was an estimate
                on_progress(final)
        finally:
            if report_file is not None:
                report_file.close()
        summary = {
            "sent": counts["sent"],
            "rejected": counts["rejected"] + counts["unreadable"],
            "failed": counts["failed"],
            "unknown": counts["unknown"],
            "calls": final.calls,
            "rate_limited": final.rate_limited,
            "seconds": round(final.elapsed, 1),
        }
        if settings.output == "json":
            _emit(settings, {"summary": summary, "problems": problems})
        else:
            table = Table(title=f"Bulk send of {csv_file.name}")
            table.add_column("result")
            table.add_column("recipients", justify="right")
            for key in ("sent", "rejected", "failed", "unknown"):
                table.add_row(key, str(summary[key]))
            table.add_row("calls", str(summary["calls"]))
            table.add_row("429s met", str(summary["rate_limited"]))
            table.add_row("seconds", str(summary["seconds"]))
            settings.out.print(table)
        if summary["rejected"] + summary["failed"] + summary["unknown"] == 0:
            return EXIT_OK
        if summary["sent"]:
            return EXIT_PARTIAL
        return EXIT_FAILURE if summary["failed"] + summary["unknown"] else EXIT_BAD_INPUT

    def _record(result: BulkResult) -> None:
        counts[result.status] += 1
        if result.status == "sent":
            return
        line = lines.line(result.index)
        what = f"line {line}: {result.to or '(no number)'}: {result.status}"
        if result.reason:
            what += f": {result.reason}"
        settings.err.print(what, highlight=False, markup=False)
        if len(problems) < 1000:
            problems.append({"line": line, "to": result.to, "status": result.status, "reason": result.reason})

    _run(settings, work)
