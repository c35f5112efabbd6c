"""The small commands: send, balance, status, replies, analyze, sandbox."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from .._analysis import analyze as analyze_text
from .._client import AsyncSmsClient
from .._exceptions import InvalidRequestError
from .._sms_text import MAX_PARTS
from ..tracking import DeliveryTimeoutError
from ._app import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    _emit,
    _Exit,
    _hours,
    _pairs_table,
    _plain,
    _run,
    _say,
    _Settings,
    cli,
    message_text,
)


@cli.command()
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeat, or comma-separate).")
@click.option("-m", "--message", help='The text ("-": read it from stdin, out of sight of ps).')
@click.option(
    "--message-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the text from a file.",
)
@click.option("--from", "from_", help="Sender: a number or an approved alphanumeric ID.")
@click.option("--countrycode", help="Country of local numbers, e.g. AU.")
@click.option(
    "--max-parts", type=click.IntRange(1, MAX_PARTS), help="Refuse a message taking more SMS parts."
)
@click.pass_obj
def send(  # noqa: PLR0917
    settings: _Settings,
    to: tuple[str, ...],
    message: str | None,
    message_file: Path | None,
    from_: str | None,
    countrycode: str | None,
    max_parts: int | None,
) -> None:
    """Send one message to up to 500 numbers."""
    try:
        text = message_text(message, message_file)
    except _Exit as exc:
        _say(settings.err, "error", exc.message)
        sys.exit(exc.code)

    async def work(client: AsyncSmsClient) -> int:
        numbers = [n for item in to for n in item.split(",") if n.strip()]
        result = await client.sms.send(
            message=text, to=numbers, from_=from_, countrycode=countrycode, max_parts=max_parts
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

    _run(settings, work, patient=wait)  # a long watch keeps retrying


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

    _run(settings, work, patient=follow)  # a long watch keeps retrying


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


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """Run the local sandbox (same options as python -m smsapi_async.sandbox; try --help)."""
    try:
        from ..sandbox.__main__ import main as sandbox_main  # noqa: PLC0415 (an optional extra)
    except ImportError as exc:
        click.echo(
            f'the sandbox needs the "sandbox" extra: pip install "smsapi-async[sandbox]" ({exc})', err=True
        )
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(sandbox_main(list(args)))
