"""``smsapi``: the command line (``pip install "smsapi-async[cli]"``).

Credentials come from ``$SMSAPI_API_KEY`` / ``$SMSAPI_API_SECRET`` or a profile in
``~/.config/smsapi/config.ini`` (``$SMSAPI_CONFIG`` to move it, ``--profile`` / ``$SMSAPI_PROFILE`` to
pick one), never from the command line::

    [default]
    api_key = ...
    api_secret = ...
    base_url = https://api.transmitsms.com
    rate_limit = 2

Data goes to stdout (``-o json`` for scripts), logs and progress to stderr. Exit codes: 0 success,
1 partial failure (some recipients not sent, or their outcome unknown), 2 bad input (nothing sent),
3 failure (the API or the network refused; nothing sent).
"""

from __future__ import annotations

import bisect
import configparser
import csv
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NoReturn

import anyio
import attrs

try:
    import click
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from rich.text import Text
except ImportError as exc:  # pragma: no cover - the message is the point
    raise SystemExit(f'smsapi needs the "cli" extra: pip install "smsapi-async[cli]" ({exc})') from None

from ._analysis import analyze as analyze_text
from ._analysis import render_placeholders
from ._bulk import BulkProgress, BulkResult
from ._client import AsyncSmsClient
from ._exceptions import InvalidRequestError, SmsApiError
from ._journal import JournalError
from .tracking import DeliveryTimeoutError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "main"]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2
EXIT_FAILURE = 3

log = logging.getLogger("smsapi_async.cli")
_TO_COLUMNS = ("to", "mobile", "msisdn", "number", "phone")


@attrs.define
class _Settings:
    output: str
    profile: str | None
    base_url: str | None
    rate_limit: float | None
    out: Console
    err: Console


def _config_path() -> Path:
    return Path(os.environ.get("SMSAPI_CONFIG") or Path.home() / ".config" / "smsapi" / "config.ini")


def _profile(settings: _Settings) -> Mapping[str, str]:
    path = _config_path()
    name = settings.profile or os.environ.get("SMSAPI_PROFILE")
    if not path.exists():
        if name:
            _fail(EXIT_BAD_INPUT, f"profile {name!r} asked for, but there is no config file at {path}")
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        _fail(EXIT_BAD_INPUT, f"{path}: not a readable config file ({exc})")
    name = name or "default"
    if not parser.has_section(name):
        if settings.profile or os.environ.get("SMSAPI_PROFILE"):
            _fail(EXIT_BAD_INPUT, f"{path} has no profile [{name}]")
        return {}
    return dict(parser.items(name))


def _client(settings: _Settings) -> AsyncSmsClient:
    profile = _profile(settings)
    key = os.environ.get("SMSAPI_API_KEY") or profile.get("api_key")
    secret = os.environ.get("SMSAPI_API_SECRET") or profile.get("api_secret")
    if not key or not secret:
        _fail(
            EXIT_BAD_INPUT,
            "no credentials: set SMSAPI_API_KEY and SMSAPI_API_SECRET, or api_key and api_secret in "
            f"a profile of {_config_path()}",
        )
    base_url = (
        settings.base_url
        or os.environ.get("SMSAPI_BASE_URL")
        or profile.get("base_url")
        or "https://api.transmitsms.com"
    )
    rate = settings.rate_limit
    if rate is None and profile.get("rate_limit"):
        try:
            rate = float(profile["rate_limit"])
        except ValueError:
            _fail(
                EXIT_BAD_INPUT, f"rate_limit in the profile must be a number, got {profile['rate_limit']!r}"
            )
    try:
        return AsyncSmsClient(key, secret, base_url=base_url, rate_limit=2.0 if rate is None else rate)
    except InvalidRequestError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))


class _Exit(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def _say(console: Console, label: str, message: object, style: str = "red") -> None:
    """``label: message`` on stderr; the message is shown as it is (no markup: it may hold [brackets])."""
    console.print(Text.assemble((f"{label}: ", style), str(message)), highlight=False)


def _fail(code: int, message: str) -> NoReturn:
    raise _Exit(code, message)


def _run(settings: _Settings, work: Callable[[AsyncSmsClient], Awaitable[int]]) -> None:
    """Run ``work`` with a client; map errors to messages on stderr and exit codes."""

    async def main() -> int:
        async with _client(settings) as client:
            return await work(client)

    try:
        code = anyio.run(main)
    except _Exit as exc:
        _say(settings.err, "error", exc.message, "red")
        code = exc.code
    except (InvalidRequestError, JournalError) as exc:
        _say(settings.err, "error", exc, "red")
        code = EXIT_BAD_INPUT
    except SmsApiError as exc:
        _say(settings.err, "failed", exc, "red")
        code = EXIT_FAILURE
    except KeyboardInterrupt:
        settings.err.print("interrupted")
        code = 130
    sys.exit(code)


MAX_HOURS = 24 * 365 * 10


def _hours(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A look-back in hours that a date can hold: 0 to ten years (NaN fails the comparison too)."""
    if not 0 <= value <= MAX_HOURS:
        raise click.BadParameter(f"hours from 0 to {MAX_HOURS}, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    """A value as JSON shows it."""
    if attrs.has(type(value)):
        return {
            k: _plain(v)
            for k, v in attrs.asdict(value, recurse=False).items()
            if k not in ("extra", "error", "text") and not k.startswith("_")
        }
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _emit(settings: _Settings, data: Any, table: Table | None = None) -> None:
    if settings.output == "json":
        settings.out.print_json(json.dumps(_plain(data)))
    elif table is not None:
        settings.out.print(table)
    else:
        settings.out.print(data, highlight=False)


def _pairs_table(title: str, pairs: Mapping[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs.items():
        table.add_row(key, str(value))
    return table


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", help="Output format.")
@click.option("--profile", help="Profile of the config file (default: $SMSAPI_PROFILE or [default]).")
@click.option("--base-url", help="API root (default: $SMSAPI_BASE_URL, the profile's, or the real API).")
@click.option("--rate", "rate_limit", type=float, help="Calls per second (default 2, or the profile's).")
@click.option("-v", "--verbose", count=True, help="Log requests on stderr (-vv: more).")
@click.pass_context
def cli(  # noqa: PLR0917 (click passes options positionally)
    ctx: click.Context,
    output: str,
    profile: str | None,
    base_url: str | None,
    rate_limit: float | None,
    verbose: int,
) -> None:
    """Transmit SMS from the command line: send, bulk-send a CSV, check status, read replies."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2), stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    ctx.obj = _Settings(
        output=output,
        profile=profile,
        base_url=base_url,
        rate_limit=rate_limit,
        out=Console(soft_wrap=True),
        err=Console(stderr=True, soft_wrap=True),
    )


@cli.command()
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeat, or comma-separate).")
@click.option("-m", "--message", required=True, help="The text.")
@click.option("--from", "from_", help="Sender: a number or an approved alphanumeric ID.")
@click.option("--countrycode", help="Country of local numbers, e.g. AU.")
@click.option("--max-parts", type=int, help="Refuse a message longer than this many SMS parts.")
@click.pass_obj
def send(  # noqa: PLR0917
    settings: _Settings,
    to: tuple[str, ...],
    message: str,
    from_: str | None,
    countrycode: str | None,
    max_parts: int | None,
) -> None:
    """Send one message to up to 500 numbers."""

    async def work(client: AsyncSmsClient) -> int:
        numbers = [n for item in to for n in item.split(",") if n.strip()]
        result = await client.sms.send(
            message=message, to=numbers, from_=from_, countrycode=countrycode, max_parts=max_parts
        )
        data = {
            "message_id": result.message_id,
            "recipients": result.recipients,
            "sms": result.sms,
            "cost": result.cost,
            "send_at": result.send_at,
        }
        _emit(settings, data, _pairs_table("Sent", data))
        return EXIT_OK if result.recipients >= len(set(numbers)) else EXIT_PARTIAL

    _run(settings, work)


@cli.command()
@click.pass_obj
def balance(settings: _Settings) -> None:
    """The account balance."""

    async def work(client: AsyncSmsClient) -> int:
        result = await client.account.balance()
        _emit(
            settings,
            result,
            _pairs_table("Balance", {"balance": result.balance, "currency": result.currency}),
        )
        return EXIT_OK

    _run(settings, work)


@cli.command()
@click.argument("message_id", type=int)
@click.option("--wait", is_flag=True, help="Wait until every recipient has a final state.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds --wait waits at most.")
@click.option(
    "--every", type=float, default=5.0, show_default=True, help="Seconds between checks (at first)."
)
@click.pass_obj
def status(settings: _Settings, message_id: int, wait: bool, timeout: float, every: float) -> None:
    """Delivery counters of a message (exit 1 if --wait ran out of time)."""

    async def work(client: AsyncSmsClient) -> int:
        complete = True
        if wait:
            try:
                await client.sms.wait_for_delivery(message_id, timeout=timeout, poll_interval=every)
            except DeliveryTimeoutError as exc:
                complete = False
                _say(
                    settings.err, "timeout", f"{len(exc.result.pending)} recipient(s) still pending", "yellow"
                )
        stats = await client.sms.stats(message_id)
        data = {"message_id": message_id, **_plain(stats)}
        _emit(settings, data, _pairs_table(f"Message {message_id}", data))
        return EXIT_OK if complete else EXIT_PARTIAL

    _run(settings, work)


@cli.command()
@click.option(
    "--since", type=float, default=24.0, show_default=True, callback=_hours, help="Hours to look back."
)
@click.option("--follow", is_flag=True, help="Keep printing new replies as they come (Ctrl-C stops).")
@click.option("--every", type=float, default=5.0, show_default=True, help="Seconds between checks.")
@click.pass_obj
def replies(settings: _Settings, since: float, follow: bool, every: float) -> None:
    """Replies the account received (one JSON line per reply with -o json)."""

    def show(reply_id: int, message_id: int, mobile: str, text: str, received_at: datetime | None) -> None:
        if settings.output == "json":
            row = {"id": reply_id, "message_id": message_id, "msisdn": mobile, "response": text}
            row["received_at"] = received_at.isoformat() if received_at else None
            settings.out.print(json.dumps(row), highlight=False, soft_wrap=True)
        else:
            when = received_at.isoformat() if received_at else "?"
            settings.out.print(f"{when}  {mobile}  {text}", highlight=False, markup=False)

    async def work(client: AsyncSmsClient) -> int:
        start = datetime.now(timezone.utc) - timedelta(hours=since)
        if follow:  # each reply once, from polling (and callbacks, when a receiver is wired)
            async for event in client.sms.reply_stream(since=start, poll_interval=every):
                show(event.response_id, event.message_id, event.mobile, event.text, event.received_at)
        end = datetime.now(timezone.utc) + timedelta(minutes=1)  # whole seconds: include this one
        found = [r async for r in client.sms.user_responses(start=start, end=end)]
        for r in sorted(found, key=lambda r: (r.received_at or end, r.id)):
            show(r.id, r.message_id, r.msisdn, r.response, r.received_at)
        return EXIT_OK

    _run(settings, work)


@cli.command()
@click.argument("text")
@click.option("--price", help="Price of one SMS part, for the cost per recipient.")
@click.pass_obj
def analyze(settings: _Settings, text: str, price: str | None) -> None:
    """What TEXT costs: encoding, parts, characters forcing UCS-2, placeholders. Exit 2 if it cannot go."""
    try:
        a = analyze_text(text, price_per_part=price)
    except InvalidRequestError as exc:
        _say(settings.err, "error", exc, "red")
        sys.exit(EXIT_BAD_INPUT)
    if settings.output == "json":
        _emit(settings, {**_plain(a), "problems": list(a.problems), "suggestion": a.suggestion})
    else:
        pairs: dict[str, Any] = {
            "encoding": a.encoding,
            "characters": a.characters,
            "units": f"{a.units} of {a.unit_limit}",
            "parts": a.parts,
            "fits": "yes" if a.fits else "no",
            "placeholders": ", ".join(a.placeholders) or "-",
        }
        if a.cost_per_recipient is not None:
            pairs["cost per recipient"] = a.cost_per_recipient
        settings.out.print(_pairs_table("Message", pairs))
        if a.forcing:
            table = Table(title="Characters forcing UCS-2")
            for column in ("char", "code point", "name", "count", "replace with"):
                table.add_column(column)
            for f in a.forcing:
                swap = "-" if f.replacement is None else repr(f.replacement)
                table.add_row(repr(f.character), f.codepoint, f.name, str(f.count), swap)
            settings.out.print(table)
            if a.suggestion is not None:
                settings.out.print(
                    f"GSM-7 version ({a.suggestion_parts} parts): {a.suggestion}", markup=False
                )
        for problem in a.problems:
            _say(settings.err, "note", problem, "yellow")
    sys.exit(EXIT_OK if a.fits and a.text.strip() else EXIT_BAD_INPUT)


# --- bulk -------------------------------------------------------------------------------------


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


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """Run the local sandbox (same options as python -m smsapi_async.sandbox; try --help)."""
    try:
        from .sandbox.__main__ import main as sandbox_main  # noqa: PLC0415 (an optional extra)
    except ImportError as exc:
        click.echo(
            f'the sandbox needs the "sandbox" extra: pip install "smsapi-async[sandbox]" ({exc})', err=True
        )
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(sandbox_main(list(args)))


def main(argv: list[str] | None = None) -> None:
    """The ``smsapi`` console script."""
    cli.main(args=argv, prog_name="smsapi")


if __name__ == "__main__":
    main()
