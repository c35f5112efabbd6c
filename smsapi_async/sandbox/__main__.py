"""``python -m smsapi_async.sandbox``: serve the sandbox with uvicorn, or act on a running one."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

import uvicorn

from ._admin_cli import add_admin_arguments, run_admin, wants_admin
from ._callbacks import UnusableUrl, check_callback_url
from ._config import AccountConfig, ChaosConfig, SandboxConfig, rate_problem
from ._framing import tolerant_http_protocol
from ._persist import StateFileError, StateStore
from ._samesite import exposure_warning
from ._sandbox import Sandbox
from ._ui import UI_PATH


def _rate_limit(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    problem = rate_problem(rate)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem.replace(repr(rate), repr(value)))
    return rate


def _callback_url(value: str) -> str:
    try:
        return check_callback_url(value)
    except UnusableUrl as exc:
        raise argparse.ArgumentTypeError(f"not a usable http(s) URL: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m smsapi_async.sandbox",
        description="Local emulator of the Transmit SMS v1 API.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add("--port", type=int, default=8765, help="port (default 8765)")
    add(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (IP addresses and localhost always are); repeatable",
    )
    add("--api-key", default="sandbox-key", help="demo account API key")
    add("--api-secret", default="sandbox-secret", help="demo account API secret")
    add("--balance", type=float, default=1000.0, help="demo account balance (default 1000.00)")
    add("--currency", default="AUD")
    add(
        "--rate-limit",
        type=_rate_limit,
        default=2.0,
        help="calls/s per account: a whole number, or below 1 (0.5 = one call every 2 s); 0 = off "
        "(default 2)",
    )
    add("--jitter", type=float, default=0.0, help="max random delay before processing, seconds")
    add("--delivery-delay", type=float, default=2.0, help="seconds until a DLR (default 2)")
    add(
        "--callback-retry-scale",
        type=float,
        default=0.01,
        help="factor on the 1m/5m/1h/24h callback retries (default %(default)s)",
    )
    add("--dlr-callback", type=_callback_url, help="account default DLR callback URL")
    add("--reply-callback", type=_callback_url, help="account default reply callback URL")
    add("--link-hits-callback", type=_callback_url, help="account default link-hits callback URL")
    add(
        "--allow-link-local",
        action="store_true",
        help="let callbacks and file_url fetches reach link-local addresses (169.254.0.0/16, fe80::/10: "
        "where cloud metadata services answer); refused by default",
    )
    add("--seed", type=int, help="seed for jitter and chaos")
    for fault in ("over-limit", "server-error", "drop-before", "drop-after", "slow"):
        add(f"--chaos-{fault}", type=float, default=0.0, metavar="P", help="probability 0..1")
    add("--chaos-slow-seconds", type=float, default=5.0)
    add(
        "--db",
        metavar="PATH",
        help="keep the state and the callback queue in this SQLite file across restarts",
    )
    add_admin_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if wants_admin(args):
        return run_admin(args)
    account = AccountConfig(
        api_key=args.api_key,
        api_secret=args.api_secret,
        balance=args.balance,
        currency=args.currency,
        dlr_callback=args.dlr_callback,
        reply_callback=args.reply_callback,
        link_hits_callback=args.link_hits_callback,
    )
    config = SandboxConfig(
        accounts=(account,),
        rate_limit=args.rate_limit,
        jitter=args.jitter,
        delivery_delay=args.delivery_delay,
        callback_retry_scale=args.callback_retry_scale,
        allow_link_local=args.allow_link_local,
        seed=args.seed,
        chaos=ChaosConfig(
            over_limit=args.chaos_over_limit,
            server_error=args.chaos_server_error,
            drop_before=args.chaos_drop_before,
            drop_after=args.chaos_drop_after,
            slow=args.chaos_slow,
            slow_seconds=args.chaos_slow_seconds,
        ),
    )
    try:
        store = StateStore(args.db) if args.db else None
        sandbox = Sandbox(config, store=store, allowed_hosts=[*args.allow_host, args.host])
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    warning = exposure_warning(args.host)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    if store is not None:
        print(f"State kept in {store.path}", flush=True)
    print(f"Transmit SMS sandbox: http://{args.host}:{args.port}", flush=True)
    print(f"API key: {args.api_key}", flush=True)
    print(f"API secret: {args.api_secret}", flush=True)
    print(f"Inbox: http://{args.host}:{args.port}{UI_PATH}", flush=True)
    uvicorn.run(
        sandbox.app,
        host=args.host,
        port=args.port,
        log_level="info",
        lifespan="on",
        http=tolerant_http_protocol(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
