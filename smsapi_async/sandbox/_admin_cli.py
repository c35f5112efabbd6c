"""The command line's client side: act on a sandbox that is already running, through its admin API.

python -m smsapi_async.sandbox --inject 61400000001 "STOP"      # an inbound SMS / reply
python -m smsapi_async.sandbox --show-state
python -m smsapi_async.sandbox --show-requests 20
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

__all__ = ["add_admin_arguments", "run_admin", "wants_admin"]


def add_admin_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that talk to a running sandbox instead of starting one."""
    group = parser.add_argument_group("acting on a running sandbox (instead of serving one)")
    add = group.add_argument
    add("--url", default="http://127.0.0.1:8765", help="the running sandbox (default http://127.0.0.1:8765)")
    add(
        "--inject", nargs=2, metavar=("MOBILE", "MESSAGE"), help="simulate an SMS from MOBILE (STOP opts out)"
    )
    add("--to", metavar="NUMBER", help="with --inject: the virtual number it was sent to")
    add("--message-id", type=int, help="with --inject: the message it replies to (default: the last sent)")
    add("--show-state", action="store_true", help="print accounts, messages and counters as JSON")
    add("--show-requests", type=int, nargs="?", const=50, metavar="N", help="print the last N requests")


def wants_admin(args: argparse.Namespace) -> bool:
    return bool(args.inject or args.show_state or args.show_requests)


def run_admin(args: argparse.Namespace) -> int:
    """Carry out the admin options given; prints the sandbox's answers; returns an exit code."""
    with httpx.Client(base_url=args.url, timeout=10) as http:
        try:
            if args.inject:
                mobile, message = args.inject
                body: dict[str, Any] = {"mobile": mobile, "message": message}
                if args.to:
                    body["to"] = args.to
                if args.message_id:
                    body["message_id"] = args.message_id
                _show(http.post("/_sandbox/inbound", json=body))
            if args.show_state:
                _show(http.get("/_sandbox/state"))
            if args.show_requests:
                _show(http.get("/_sandbox/requests", params={"limit": args.show_requests}))
        except httpx.HTTPError as exc:
            print(f"could not reach the sandbox at {args.url}: {exc}")
            return 1
        except _Refused as exc:
            print(exc)
            return 1
    return 0


class _Refused(Exception):
    pass


def _show(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise _Refused(f"the sandbox refused: HTTP {response.status_code} {response.text[:300]}")
    print(json.dumps(response.json(), indent=2, ensure_ascii=False))
