"""What receiving a callback costs, next to the check most people write by hand.

``python -m benchmarks.webhooks [--quick]``. The hand-written check is the usual one:
``urllib.parse.parse_qsl`` into a dict, ``json.dumps`` it, HMAC-SHA256 with the API secret. It is
faster, and it rejects every genuine callback whose text has a ``/`` (a link, a date, "2/3"), because
PHP's ``json_encode``, which the platform signs with, escapes it as ``\\/``. The "genuine
callbacks accepted" column counts that over a set signed the platform's way.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlencode

import anyio
import httpx
from rich.console import Console

from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    CallbackReceiver,
    Event,
    parse_callback,
    sign_callback,
    verify_signature,
)

from . import Table

__all__ = ["callback_cost"]

SECRET = "bench-secret"
TEXTS = ["Yes please", "See https://shop.example/a/b", "Merci, à demain", "👍 2/3", "STOP"]


def _reply(i: int, text: str) -> list[tuple[str, str]]:
    return [
        ("user_id", "54911"),
        ("message_id", "331695745"),
        ("response", text),
        ("response_id", str(35_000_000 + i)),
        ("mobile", "61400000001"),
        ("longcode", "61429997672"),
        ("datetime_entry", "2024-05-16 12:10:00"),
        ("is_optout", "no"),
    ]


def _naive_verify(query: str, signature: str) -> bool:
    text = json.dumps(dict(parse_qsl(query, keep_blank_values=True)), separators=(",", ":"))
    expected = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _per_call(func: Callable[[], object], ops: int) -> float:
    started = time.perf_counter()
    for _ in range(ops):
        func()
    return (time.perf_counter() - started) / ops * 1e6


async def _receiver_cost(requests: int) -> tuple[float, float]:
    seen: list[Event] = []
    receiver = CallbackReceiver(seen.append, api_secret=SECRET)
    queries = [_reply(i, TEXTS[i % len(TEXTS)]) for i in range(requests)]
    prepared = [
        ("/?" + urlencode(q, quote_via=quote), {SIGNATURE_HEADER: sign_callback(q, SECRET)}) for q in queries
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:
        started = time.perf_counter()
        for url, headers in prepared:
            await http.get(url, headers=headers)
        new = (time.perf_counter() - started) / requests * 1e6
        started = time.perf_counter()
        for url, headers in prepared:
            await http.get(url, headers=headers)
        repeat = (time.perf_counter() - started) / requests * 1e6
    assert len(seen) == requests
    return new, repeat


def callback_cost(ops: int = 20_000, requests: int = 2_000) -> Table:
    """Microseconds per callback: hand-written check, ``verify_signature`` + ``parse_callback``, and
    a whole request through ``CallbackReceiver`` (httpx's ASGI transport, client side included)."""
    samples = [_reply(i, text) for i, text in enumerate(TEXTS)]
    signed = [(urlencode(s, quote_via=quote), sign_callback(s, SECRET)) for s in samples]
    query, signature = signed[0]
    naive_ok = sum(_naive_verify(q, sig) for q, sig in signed)
    ours_ok = sum(verify_signature(q, sig, SECRET) for q, sig in signed)
    naive = _per_call(lambda: _naive_verify(query, signature), ops)
    verify = _per_call(lambda: verify_signature(query, signature, SECRET), ops)
    parse = _per_call(lambda: parse_callback(query), ops)
    new, repeat = anyio.run(_receiver_cost, requests)
    total = len(signed)
    return Table(
        title="Receiving a reply callback (µs per callback)",
        columns=("what", "µs", "genuine callbacks accepted"),
        rows=(
            ("hand-written: parse_qsl + json.dumps + HMAC", f"{naive:.1f}", f"{naive_ok}/{total}"),
            ("verify_signature (PHP json_encode)", f"{verify:.1f}", f"{ours_ok}/{total}"),
            ("parse_callback", f"{parse:.1f}", "—"),
            ("CallbackReceiver request, new event", f"{new:.0f}", "—"),
            ("CallbackReceiver request, repeat", f"{repeat:.0f}", "—"),
        ),
        note=f"{ops} checks, {requests} requests",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a fraction of a second")
    args = parser.parse_args()
    table = callback_cost(ops=500, requests=50) if args.quick else callback_cost()
    from .__main__ import render  # noqa: PLC0415 -- only when run as a script

    render(table, Console(), 0.0)


if __name__ == "__main__":
    main()
