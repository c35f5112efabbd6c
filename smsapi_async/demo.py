"""The demo: the real client against the sandbox on loopback. No credentials, no network.

    python -m smsapi_async.demo
    python -m smsapi_async.demo --keep-serving   # then look around the sandbox's inbox; Ctrl+C stops

It serves the sandbox and a callback receiver on 127.0.0.1, then, at the API's 2 calls/s: sends to
several numbers, schedules a message and cancels it, sends to a list, receives the signed delivery
receipts, injects a reply and reads it back by callback and by walking the replies, and shows ten
queued calls spread out by the limiter with no 429.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from . import AsyncSmsClient, RateLimiter
from ._signature import SIGNATURE_HEADER, verify_callback_signature
from .sandbox import Sandbox, SandboxConfig, serve_app_in_thread, serve_in_thread
from .sandbox._ui import UI_PATH

__all__ = ["CallbackReceiver", "main", "run"]

NUMBERS = ["61400000001", "61400000002", "61400000009"]  # ...9 hard-bounces in the sandbox


class CallbackReceiver:
    """A tiny web app that records the callbacks the platform sends and checks their signature."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._arrived = threading.Condition()
        self.received: list[tuple[str, dict[str, str], bool]] = []
        self.app = Starlette(routes=[Route("/{kind}", self._receive, methods=["GET"])])

    async def _receive(self, request: Request) -> PlainTextResponse:
        query = request.url.query
        signed = verify_callback_signature(query, request.headers.get(SIGNATURE_HEADER, ""), self._secret)
        with self._arrived:
            self.received.append((request.path_params["kind"], dict(request.query_params), signed))
            self._arrived.notify_all()
        return PlainTextResponse("OK")

    def of_kind(self, kind: str) -> list[tuple[dict[str, str], bool]]:
        with self._arrived:
            return [(params, signed) for k, params, signed in self.received if k == kind]

    async def wait_for(
        self, kind: str, count: int, within: float = 15.0
    ) -> list[tuple[dict[str, str], bool]]:
        """Wait (in a worker thread: callbacks arrive on the receiver's own thread) for ``count``
        callbacks of ``kind``, at most ``within`` seconds; returns those received."""

        def wait() -> None:
            with self._arrived:
                self._arrived.wait_for(lambda: len(self.of_kind(kind)) >= count, within)

        await anyio.to_thread.run_sync(wait)
        return self.of_kind(kind)


class Narrator:
    def __init__(self, out: Callable[[str], object]) -> None:
        self._out = out
        self._start = time.monotonic()

    def step(self, title: str) -> None:
        self._out(f"\n== {title}")

    def say(self, text: str) -> None:
        self._out(f"  [{time.monotonic() - self._start:6.2f}s] {text}")


async def run(out: Callable[[str], object] = print, *, keep_serving: bool = False) -> dict[str, int]:
    """Run the demo, printing through ``out``; returns the counts it checks (for tests).

    With ``keep_serving`` the sandbox and its inbox stay up after the tour until cancelled (Ctrl+C).
    """
    config = SandboxConfig(delivery_delay=1.0)
    sandbox = Sandbox(config)
    account = config.accounts[0]
    receiver = CallbackReceiver(account.api_secret)
    tell = Narrator(out)
    with serve_in_thread(sandbox) as api_url, serve_app_in_thread(receiver.app) as hooks_url:
        inbox = f"{api_url}{UI_PATH}"
        tell.step("Sandbox")
        tell.say(f"API at {api_url} (2 calls/s per account, like the real one)")
        tell.say(f"callback receiver at {hooks_url}")
        tell.say(f"inbox at {inbox} (open it now, or run the demo with --keep-serving)")
        async with AsyncSmsClient(account.api_key, account.api_secret, base_url=api_url) as client:
            counts = await _tour(client, api_url, hooks_url, receiver, tell)
        counts["http_429"] = sum(1 for entry in sandbox.requests if entry.get("status") == 429)
        tell.step("Summary")
        for name, value in counts.items():
            tell.say(f"{name:>22}: {value}")
        tell.step("Next steps")
        for number, step in enumerate(NEXT_STEPS, 1):
            tell.say(f"{number}. {step}")
        if keep_serving:
            _check(counts)
            tell.step("Still serving")
            tell.say(f"the inbox is at {inbox}: look around, reply as a phone. Ctrl+C stops.")
            await anyio.sleep_forever()
    return counts


async def _tour(
    client: AsyncSmsClient, api_url: str, hooks_url: str, receiver: CallbackReceiver, tell: Narrator
) -> dict[str, int]:
    dlr_url, reply_url = f"{hooks_url}/dlr", f"{hooks_url}/reply"
    balance = await client.account.balance()
    tell.step("Send to several numbers")
    tell.say(f"balance {balance.balance} {balance.currency}")
    sent = await client.sms.send(
        message="Your table for 4 is booked for 7pm.",
        to=NUMBERS,
        dlr_callback=dlr_url,
        reply_callback=reply_url,
    )
    tell.say(f"message {sent.message_id}: {sent.recipients} recipients, {sent.sms} parts, cost {sent.cost}")

    tell.step("Schedule a message, then cancel it")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    scheduled = await client.sms.send(message="Reminder: dinner tonight", to=NUMBERS[:1], send_at=later)
    tell.say(f"message {scheduled.message_id} scheduled for {scheduled.send_at:%Y-%m-%d %H:%M} UTC")
    await client.sms.cancel(scheduled.message_id)
    tell.say(f"message {scheduled.message_id} cancelled")

    tell.step("Send to a list")
    guests = await client.lists.add("Dinner guests", fields={"field_1": "Table"})
    for number, name in [("61400000011", "Ada"), ("61400000012", "Grace")]:
        await client.lists.add_contact(guests.id, number, first_name=name, fields={"field_1": "7"})
    to_list = await client.sms.send(
        message="Hi [firstname], see you at 7!",
        list_id=guests.id,
        dlr_callback=dlr_url,
        reply_callback=reply_url,
    )
    tell.say(f"message {to_list.message_id} to list '{guests.name}': {to_list.recipients} recipients")

    tell.step("Ten queued calls through the 2 calls/s limiter")
    assert isinstance(client.limiter, RateLimiter)
    started = time.monotonic()
    times: list[float] = []

    async def one() -> None:
        await client.account.balance()
        times.append(time.monotonic() - started)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    tell.say("answered at " + ", ".join(f"{t:.2f}s" for t in sorted(times)))

    tell.step("Delivery receipts (signed callbacks)")
    dlrs = await receiver.wait_for("dlr", len(NUMBERS) + 2)
    for params, signed in dlrs:
        tell.say(
            f"DLR {params['message_id']} {params['mobile']}: {params['status']} (signature ok: {signed})"
        )
    walked = [r async for r in client.sms.sent(sent.message_id, page_size=2)]
    tell.say(
        "walked get-sms-sent in pages of 2: " + ", ".join(f"{r.msisdn} {r.delivery_status}" for r in walked)
    )

    tell.step("A reply comes in")
    async with httpx.AsyncClient(base_url=api_url) as admin:
        injected = await admin.post(
            "/_sandbox/inbound", json={"mobile": NUMBERS[0], "message": "Can we make it 8pm?"}
        )
        injected.raise_for_status()
    replies_cb = await receiver.wait_for("reply", 1)
    for params, signed in replies_cb:
        tell.say(f"reply callback from {params['mobile']}: {params['response']!r} (signature ok: {signed})")
    replies = [r async for r in client.sms.user_responses()]
    for reply in replies:
        tell.say(f"read back via get-user-sms-responses: {reply.msisdn} said {reply.response!r}")
    balance = await client.account.balance()
    tell.say(f"balance now {balance.balance} {balance.currency}")
    return {
        "messages_sent": 3,
        "dlr_callbacks": len(dlrs),
        "signed_ok": sum(signed for _, signed in dlrs + replies_cb),
        "reply_callbacks": len(replies_cb),
        "replies_read_back": len(replies),
    }


NEXT_STEPS = (
    "look around the sandbox's inbox and reply as a phone: nox -s demo -- --keep-serving",
    "point your own code at a sandbox: python -m smsapi_async.sandbox (it prints its address), "
    "then SMSAPI_BASE_URL=http://127.0.0.1:8765 SMSAPI_API_KEY=sandbox-key "
    "SMSAPI_API_SECRET=sandbox-secret python your_app.py",
    "read the guides: docs/getting-started.md (or nox -s docs, then open site/index.html)",
)
"""What the demo suggests trying next, in the order a newcomer would."""

EXPECTED = {
    "dlr_callbacks": len(NUMBERS) + 2,
    "signed_ok": len(NUMBERS) + 3,
    "reply_callbacks": 1,
    "replies_read_back": 1,
    "http_429": 0,
}


def _check(counts: dict[str, int]) -> bool:
    wrong = {name: counts.get(name) for name, value in EXPECTED.items() if counts.get(name) != value}
    if wrong:
        print(f"\nThe demo did not go as expected: {wrong} (expected {EXPECTED})", file=sys.stderr)
    return not wrong


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m smsapi_async.demo``; exits 1 if the demo did not go as described."""
    parser = argparse.ArgumentParser(prog="python -m smsapi_async.demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keep-serving", action="store_true", help="keep the sandbox and its inbox up after the tour"
    )
    args = parser.parse_args(argv)
    # The sandbox and the receiver are threads of this process. With the default 5 ms GIL switch
    # interval a request could reach the sandbox up to 5 ms late, as the real API (another machine)
    # never would, and eat the limiter's safety margin; switch threads faster for the demo.
    sys.setswitchinterval(0.0005)
    try:
        counts = anyio.run(functools.partial(run, keep_serving=args.keep_serving))
    except KeyboardInterrupt:
        sys.exit(0 if args.keep_serving else 130)  # the tour was checked before serving on
    if not _check(counts):
        sys.exit(1)


if __name__ == "__main__":
    main()
