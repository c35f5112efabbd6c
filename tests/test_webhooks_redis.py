"""RedisDedupStore against a real redis-server: receivers in several processes de-duplicate together."""

from __future__ import annotations

import itertools
import os
import time
from datetime import timedelta
from urllib.parse import quote, urlencode

import anyio
import httpx
import pytest

from smsapi_async import InvalidRequestError
from smsapi_async.webhooks import SIGNATURE_HEADER, CallbackReceiver, Event, RedisDedupStore, sign_callback

SECRET = "sandbox-secret"
DLR = [
    ("message_id", "42"),
    ("mobile", "61400000001"),
    ("datetime", "2024-01-01 00:00:05"),
    ("status", "delivered"),
]
QUERY = "/?" + urlencode(DLR, quote_via=quote)
HEADERS = {SIGNATURE_HEADER: sign_callback(DLR, SECRET)}
_prefixes = itertools.count()


def prefix() -> str:
    """A key prefix of its own for each test, so tests sharing one server do not see each other."""
    return f"test-{os.getpid()}-{next(_prefixes)}:"


@pytest.mark.anyio
async def test_two_receivers_sharing_redis_hand_an_event_on_once(redis_url: str) -> None:
    seen: list[Event] = []
    shared = prefix()
    stores = [RedisDedupStore(redis_url, prefix=shared) for _ in range(2)]  # as in two processes
    receivers = [CallbackReceiver(seen.append, api_secret=SECRET, dedup=store) for store in stores]
    statuses: list[int] = []

    async def deliver(receiver: CallbackReceiver) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver), base_url="http://h"
        ) as http:
            statuses.append((await http.get(QUERY, headers=HEADERS)).status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            for receiver in receivers:
                tg.start_soon(deliver, receiver)
    for store in stores:
        await store.aclose()
    assert statuses == [200] * 10
    assert len(seen) == 1


@pytest.mark.anyio
async def test_a_failed_handler_releases_the_key_for_the_retry(redis_url: str) -> None:
    store = RedisDedupStore(redis_url, prefix=prefix())
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database down")

    receiver = CallbackReceiver(flaky, api_secret=SECRET, dedup=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://h") as http:
        assert (await http.get(QUERY, headers=HEADERS)).status_code == 500
        assert (await http.get(QUERY, headers=HEADERS)).text == "ok"
        assert (await http.get(QUERY, headers=HEADERS)).text == "duplicate"
    await store.aclose()
    assert calls == 2


@pytest.mark.anyio
async def test_keys_expire_after_the_ttl(redis_url: str) -> None:
    # a TTL no busy machine outlasts between two claims; then claims until the key is gone, which
    # must take the TTL at least (Redis expires a key on time, never before) and come at all
    ttl = 1.0
    store = RedisDedupStore(redis_url, prefix=prefix(), ttl=timedelta(seconds=ttl))
    started = time.monotonic()
    assert await store.claim("k")
    assert not await store.claim("k")
    with anyio.fail_after(30):
        while not await store.claim("k"):  # noqa: ASYNC110 (Redis has no event to wait on)
            await anyio.sleep(0.05)  # a refused claim leaves the key's TTL alone
    assert time.monotonic() - started >= ttl - 0.01
    await store.aclose()


@pytest.mark.anyio
async def test_an_unreachable_redis_gives_503_so_the_platform_retries() -> None:
    with anyio.fail_after(10):
        store = RedisDedupStore("redis://127.0.0.1:1/0")
        seen: list[Event] = []
        receiver = CallbackReceiver(seen.append, api_secret=SECRET, dedup=store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver), base_url="http://h"
        ) as http:
            assert (await http.get(QUERY, headers=HEADERS)).status_code == 503
    assert seen == []


@pytest.mark.parametrize("options", [{"ttl": 0}, {"ttl": -1}, {"ttl": True}, {"url": "http://x"}])
def test_bad_store_settings_are_refused(options: dict[str, object]) -> None:
    url = options.pop("url", "redis://127.0.0.1:6379/0")
    with pytest.raises(InvalidRequestError):
        RedisDedupStore(str(url), **options)  # type: ignore[arg-type]
