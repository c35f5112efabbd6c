"""The ``smsapi`` command group and what every command shares: settings, credentials, running a
command with a client, exit codes, output as text or JSON."""

from __future__ import annotations

import configparser
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import anyio
import attrs
import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._client import AsyncSmsClient
from .._exceptions import InvalidRequestError, SmsApiError
from .._journal import JournalError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "EXIT_PARTIAL", "cli"]

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
    _warn_if_exposed(settings, path, parser)
    return dict(parser.items(name))


def _warn_if_exposed(settings: _Settings, path: Path, parser: configparser.ConfigParser) -> None:
    """A config file holding a secret should be readable by its owner only, as ssh insists for keys."""
    holds_secret = any(parser.has_option(section, "api_secret") for section in parser.sections())
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if holds_secret and mode & 0o077:
        _say(
            settings.err,
            "warning",
            f"{path} holds an API secret and others can read it (mode {mode:o}): chmod 600 {path}",
            "yellow",
        )


CLI_RETRY_WAIT = 2.0
"""Seconds a one-off command's call may spend waiting to be resent: a person is watching, so a
server that cannot be reached is reported within a couple of seconds (bulk runs and long watches,
``status --wait`` and ``replies --follow``, wait as long as the library allows)."""


def _client(settings: _Settings, *, patient: bool = False) -> AsyncSmsClient:
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
        return AsyncSmsClient(
            key,
            secret,
            base_url=base_url,
            rate_limit=2.0 if rate is None else rate,
            max_retry_wait=60.0 if patient else CLI_RETRY_WAIT,
        )
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


def message_text(message: str | None, message_file: Path | None) -> str:
    """The text of ``-m TEXT``, ``-m -`` (stdin) or ``--message-file PATH``: the last two keep it out
    of the process list, where ``ps`` shows every argument to every user of the machine."""
    if message_file is not None:
        try:
            return message_file.read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(EXIT_BAD_INPUT, f"--message-file {message_file}: cannot be read as UTF-8 text ({exc})")
    if message == "-":
        text = sys.stdin.read().rstrip("\n")
        if not text:
            _fail(EXIT_BAD_INPUT, "-m - read no text from stdin")
        return text
    if message is None:
        _fail(EXIT_BAD_INPUT, "give the text: --message TEXT, -m - (stdin) or --message-file PATH")
    return message


def _run(
    settings: _Settings, work: Callable[[AsyncSmsClient], Awaitable[int]], *, patient: bool = False
) -> None:
    """Run ``work`` with a client; map errors to messages on stderr and exit codes. ``patient``:
    a long run, whose calls may wait as long as the library allows to be resent."""

    async def main() -> int:
        async with _client(settings, patient=patient) as client:
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


_GLOBAL_WITH_VALUE = ("-o", "--output", "--profile", "--base-url", "--rate")
_PASSTHROUGH = ("sandbox",)  # commands that hand their arguments on untouched


def _is_global(arg: str) -> int:
    """How many arguments a global option starting at ``arg`` spans (0: not a global option)."""
    if arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"}):
        return 1
    if arg in _GLOBAL_WITH_VALUE:
        return 2
    if any(arg.startswith(f"{name}=") for name in _GLOBAL_WITH_VALUE if name.startswith("--")):
        return 1
    return 1 if arg.startswith("-o") and not arg.startswith("--") else 0  # -ojson


class _Group(click.Group):
    """The command group, taking its options after the command too: ``smsapi balance -o json`` is
    ``smsapi -o json balance``. A command's own options (and their values) are left alone."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoist(args))

    def _hoist(self, args: list[str]) -> list[str]:
        i = 0
        while i < len(args) and args[i] != "--" and args[i] not in self.commands:
            i += _is_global(args[i]) or 1
        if i >= len(args) or args[i] not in self.commands or args[i] in _PASSTHROUGH:
            return args
        command = self.commands[args[i]]
        options = [param for param in command.params if isinstance(param, click.Option)]
        own = {name for param in options for name in (*param.opts, *param.secondary_opts)}
        takes_value = {
            name for param in options if not param.is_flag and not param.count for name in param.opts
        }
        moved, kept = [], []
        j = i + 1
        while j < len(args) and args[j] != "--":
            arg = args[j]
            span = 0 if arg.split("=", 1)[0] in own else _is_global(arg)  # the command's own wins
            if span:
                moved += args[j : j + span]
                j += span
            elif arg in takes_value:
                kept += args[j : j + 2]  # its value may look like an option: it stays with it
                j += 2
            else:
                kept.append(arg)
                j += 1
        return [*args[:i], *moved, args[i], *kept, *args[j:]]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
