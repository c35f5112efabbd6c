"""``smsapi bulk``: a CSV file to every recipient, in the fewest calls, resumably.

Everything that can be known before the first call is checked first, and any problem ends the run
with exit code 2 and one line, nothing sent: the file's encoding and delimiter (``_csv``), the
column of numbers, the message's ``[placeholders]`` against the columns, the ``--report`` path, the
``--optouts`` file, the journal (in use by another run, damaged, of another input).

Exit codes: 0 every valid recipient was sent (rows rejected for their own content are listed, and
count as failures only with ``--strict``); 1 some valid recipients were not sent (failed, or their
outcome is unknown); 2 bad input, nothing sent; 3 the API or the network refused everything.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._analysis import render_placeholders
from .._bulk import BulkProgress, BulkResult
from .._client import AsyncSmsClient
from .._sms_text import MAX_PARTS
from ._app import (
    _TO_COLUMNS,
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_PARTIAL,
    _emit,
    _Exit,
    _fail,
    _run,
    _say,
    _Settings,
    cli,
    message_text,
)
from ._csv import CsvProblem, CsvSource, inspect_csv
from ._report import Problems, SortedReport

API_PLACEHOLDERS: Final = frozenset({"tracked-link", "unsub-reply-link"})
"""Placeholders the API fills itself in a message to numbers (not to a list)."""

_PLACEHOLDER = re.compile(r"\[([A-Za-z][A-Za-z0-9_\- ]{0,63})\]")


def _placeholders(message: str) -> list[str]:
    return list(dict.fromkeys(match.group(1) for match in _PLACEHOLDER.finditer(message)))


def _check_template(message: str, source: CsvSource) -> list[str]:
    """The message's placeholders filled from columns; refuses one that is neither a column nor the API's."""
    columns = {name.lower() for name in source.header}
    names = _placeholders(message)
    unknown = [name for name in names if name.lower() not in columns and name.lower() not in API_PLACEHOLDERS]
    if unknown:
        listed = ", ".join(f"[{name}]" for name in unknown)
        _fail(
            EXIT_BAD_INPUT,
            f"the message uses {listed}, which is neither a column of {source.path.name} "
            f"({', '.join(source.header)}) nor a placeholder the API fills "
            f"({', '.join(f'[{p}]' for p in sorted(API_PLACEHOLDERS))}); nothing was sent",
        )
    return [name for name in names if name.lower() in columns]


def _read_optouts(path: Path) -> set[str]:
    try:
        source = inspect_csv(path, delimiter=",")  # one number per line; checked whole, as the input
    except CsvProblem as exc:
        _fail(EXIT_BAD_INPUT, f"--optouts: {exc}")
    with source.open() as text:
        return {line.strip().lstrip("+") for line in text if line.strip()}


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_NEW_FILE = click.Path(dir_okay=False, path_type=Path)


@cli.command()
@click.argument("csv_file", type=_FILE)
@click.option("-m", "--message", help='Text for every row ("-": from stdin); [column]s are filled per row.')
@click.option("--message-file", type=_FILE, help="Read the text from a file.")
@click.option("--column", help="Take each row's text from this column instead.")
@click.option("--to-column", help="Column of the numbers (default: to, mobile, msisdn, number or phone).")
@click.option("--from", "from_", help="Sender for every row (a 'from' column overrides it).")
@click.option("--countrycode", help="Country of local numbers, e.g. AU.")
@click.option(
    "--encoding", help="The file's encoding if not UTF-8 and it has no byte-order mark (cp1252...)."
)
@click.option("--delimiter", help="Column separator: , ; tab or | (default: from the header line).")
@click.option("--journal", type=_NEW_FILE, help="Resumable journal (SQLite).")
@click.option("--batch-size", type=click.IntRange(1, 500), default=500, show_default=True)
@click.option("--max-parts", type=click.IntRange(1, MAX_PARTS), help="Reject rows taking more SMS parts.")
@click.option("--allow-repeats", is_flag=True, help="One message per number and text (default: per run).")
@click.option("--allow-empty", is_flag=True, help="Send rows whose placeholder is empty (default: reject).")
@click.option("--strict", is_flag=True, help="Count rejected rows as failures (exit 1).")
@click.option("--optouts", type=_FILE, help="File of opted-out numbers, one a line.")
@click.option("--reconcile/--no-reconcile", default=True, show_default=True, help="Settle unknown outcomes.")
@click.option("--report", type=_NEW_FILE, help="Write every recipient's result (CSV, in row order).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_obj
def bulk(  # noqa: PLR0917
    settings: _Settings,
    csv_file: Path,
    message: str | None,
    message_file: Path | None,
    column: str | None,
    to_column: str | None,
    from_: str | None,
    countrycode: str | None,
    encoding: str | None,
    delimiter: str | None,
    journal: Path | None,
    batch_size: int,
    max_parts: int | None,
    allow_repeats: bool,
    allow_empty: bool,
    strict: bool,
    optouts: Path | None,
    reconcile: bool,
    report: Path | None,
    no_progress: bool,
) -> None:
    """Send to every row of CSV_FILE (with a header), in the fewest calls, resumably.

    The file is checked whole first (encoding, delimiter, columns, placeholders); a problem stops
    the run before anything is sent. A number gets one message per run (its first row wins). Rows
    rejected for their own content are summed up by reason, with line numbers. Exit 0: every
    valid recipient sent; 1: some not sent; 2: bad input, nothing sent.
    """
    try:
        run = _BulkRun.prepare(
            settings,
            csv_file,
            message,
            message_file,
            column,
            to_column,
            encoding,
            delimiter,
            optouts,
            report,
            allow_empty,
        )
    except _Exit as exc:
        _say(settings.err, "error", exc.message)
        sys.exit(exc.code)
    run.options = {
        "journal": journal,
        "batch_size": batch_size,
        "max_parts": max_parts,
        "reconcile": reconcile,
        "allow_repeats": allow_repeats,
    }
    run.from_, run.countrycode, run.strict, run.no_progress = from_, countrycode, strict, no_progress
    _run(settings, run.work, patient=True)


class _BulkRun:
    """One ``smsapi bulk``: what was checked before sending, and the bookkeeping while it sends."""

    def __init__(self, settings: _Settings, source: CsvSource) -> None:
        self.settings = settings
        self.source = source
        self.template: str | None = None
        self.column: str | None = None
        self.to_key = ""
        self.fills: list[str] = []
        self.allow_empty = False
        self.opted_out: set[str] = set()
        self.report: SortedReport | None = None
        self.options: dict[str, Any] = {}
        self.from_: str | None = None
        self.countrycode: str | None = None
        self.strict = False
        self.no_progress = False
        self.lines: list[int] = []  # line of each item fed to send_bulk, by index
        self.rows = self.blank = 0
        self.counts = {"sent": 0, "rejected": 0, "failed": 0, "unknown": 0}
        self.problems = Problems()

    @classmethod
    def prepare(  # noqa: PLR0917
        cls,
        settings: _Settings,
        csv_file: Path,
        message: str | None,
        message_file: Path | None,
        column: str | None,
        to_column: str | None,
        encoding: str | None,
        delimiter: str | None,
        optouts: Path | None,
        report: Path | None,
        allow_empty: bool,
    ) -> _BulkRun:
        if sum(given is not None for given in (message, message_file, column)) != 1:
            _fail(EXIT_BAD_INPUT, "give exactly one of --message, --message-file and --column")
        try:
            source = inspect_csv(csv_file, encoding=encoding, delimiter=delimiter)
        except CsvProblem as exc:
            _fail(EXIT_BAD_INPUT, str(exc))
        run = cls(settings, source)
        run.allow_empty = allow_empty
        header = source.header
        run.to_key = to_column or next((c for c in header if c.strip().lower() in _TO_COLUMNS), "")
        if run.to_key not in header:
            wanted = to_column or " / ".join(_TO_COLUMNS)
            _fail(EXIT_BAD_INPUT, f"{csv_file}: no column of numbers ({wanted}); {source.describe()}")
        if column is not None:
            if column not in header:
                _fail(EXIT_BAD_INPUT, f"{csv_file}: no column {column!r}; {source.describe()}")
            run.column = column
        else:
            run.template = message_text(message, message_file)
            run.fills = _check_template(run.template, source)
        if optouts is not None:
            run.opted_out = _read_optouts(optouts)
        if report is not None:
            try:
                run.report = SortedReport(report)
            except OSError as exc:
                _fail(EXIT_BAD_INPUT, f"--report {report}: cannot be written ({exc.strerror or exc})")
        return run

    def items(self, stream: Any) -> Iterator[dict[str, str]]:
        """The rows as send_bulk items; blank rows counted, rows with an empty placeholder rejected here."""
        for line, row in self.source.reader(stream):
            self.rows += 1
            if not row:
                self.blank += 1
                continue
            if self.column is not None:
                text = row.get(self.column, "")
            else:
                assert self.template is not None
                empty = [name for name in self.fills if not _value(row, name).strip()]
                if empty and not self.allow_empty:
                    reason = (
                        f"empty {', '.join(f'[{name}]' for name in empty)} (--allow-empty sends it blank)"
                    )
                    self._not_sent(line, row.get(self.to_key, ""), "", "rejected", reason)
                    continue
                text = render_placeholders(self.template, row)
            item = {"message": text, "to": row.get(self.to_key, "")}
            sender = row.get("from") or row.get("from_") or self.from_
            if sender:
                item["from_"] = sender
            if self.countrycode:
                item["countrycode"] = self.countrycode
            self.lines.append(line)
            yield item

    def _not_sent(self, line: int, to: str, number: str, status: str, reason: str) -> None:
        self.counts[status] += 1
        self.problems.add(status, reason, line)
        if self.report is not None:
            self.report.add(line, to, number, status, "", reason)

    def record(self, result: BulkResult) -> None:
        line = self.lines[result.index]
        if result.status == "sent":
            self.counts["sent"] += 1
            if self.report is not None:
                self.report.add(line, result.to, result.number, "sent", result.message_id, result.reason)
            return
        reason = result.reason
        if result.duplicate_of is not None:
            first = self.lines[result.duplicate_of]
            reason = f"duplicate: this number already has a message in this run (first at line {first})"
        self._not_sent(line, result.to, result.number or "", result.status, reason)

    async def work(self, client: AsyncSmsClient) -> int:
        settings = self.settings
        progress = Progress(
            TextColumn("[bold]bulk"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=settings.err,
            disable=self.no_progress or settings.output == "json",
            transient=False,
        )
        task = progress.add_task("bulk", total=self.source.rows or None, detail="")

        phases: list[str] = []

        def on_progress(p: BulkProgress) -> None:
            detail = p.phase
            if p.phase in ("sending", "done"):
                not_sent = p.failed + p.unknown
                detail = f"{p.calls} calls, {p.rate:.1f}/s, {p.rate_limited} x 429, {not_sent} not sent"
            elif not phases or phases[-1] != p.phase:  # each step once, above the bar
                phases.append(p.phase)
                progress.console.print(f"bulk: {p.phase}", highlight=False, markup=False)
            progress.update(task, completed=p.done + self.blank, detail=detail)

        try:
            with self.source.open() as stream, progress:
                sender = client.sms.send_bulk(
                    self.items(stream),
                    optouts=self.opted_out or None,
                    reconcile_delay=5.0,
                    total=self.source.rows,
                    on_progress=on_progress,
                    **self.options,
                )
                async with sender as results:
                    async for result in results:
                        self.record(result)
                final = sender.progress
                progress.update(task, total=self.rows, completed=self.rows)
        finally:
            if self.report is not None:
                self.report.close()
        return self.finish(final)

    def finish(self, final: BulkProgress) -> int:
        settings = self.settings
        not_sent = self.counts["failed"] + self.counts["unknown"]
        summary = {
            "rows": self.rows,
            "blank": self.blank,
            "sent": self.counts["sent"],
            "rejected": self.counts["rejected"],
            "failed": self.counts["failed"],
            "unknown": self.counts["unknown"],
            "from_journal": final.resumed,
            "calls": final.calls,
            "rate_limited": final.rate_limited,
            "seconds": round(final.elapsed, 1),
        }
        for line in self.problems.lines():
            settings.err.print(line, highlight=False, markup=False)
        if settings.output == "json":
            _emit(settings, {"summary": summary, "problems": self.problems.as_data()})
        else:
            table = Table(title=f"Bulk send of {self.source.path.name}")
            table.add_column("result")
            table.add_column("count", justify="right")
            for key, label in (
                ("rows", "rows read"),
                ("blank", "blank rows"),
                ("sent", "sent"),
                ("rejected", "rejected"),
                ("failed", "failed"),
                ("unknown", "outcome unknown"),
                ("from_journal", "from the journal (an earlier run)"),
                ("calls", "calls"),
                ("rate_limited", "429s met"),
                ("seconds", "seconds"),
            ):
                table.add_row(label, str(summary[key]))
            settings.out.print(table)
        if not_sent:
            return EXIT_PARTIAL if self.counts["sent"] else EXIT_FAILURE
        if self.counts["rejected"]:
            if not self.counts["sent"]:
                return EXIT_BAD_INPUT  # not one valid recipient: nothing was sent
            if self.strict:
                return EXIT_PARTIAL
        return EXIT_OK


def _value(row: dict[str, str], name: str) -> str:
    lowered = name.lower()
    return next((value for key, value in row.items() if key.lower() == lowered), "")
