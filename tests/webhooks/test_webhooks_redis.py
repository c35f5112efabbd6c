"""RedisDedupStore against a real redis-server: receivers in several processes de-duplicate together."""

from __future__ import annotations

import itertools
import os
import sys
import time
from datetime import timedelta
from urllib.parse import quote, urlencode

import anyio
import anyio.abc
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from smsapi_async import InvalidRequestError
from smsapi_async.webhooks import (
    SIGNATURE_HEADER,
    CallbackReceiver,
    Event,
    RedisDedupStore,
    parse_callback,
    sign_callback,
)
from smsapi_async.webhooks._receiver import dedup_digest

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
    answers: list[str] = []

    async def deliver(receiver: CallbackReceiver) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver), base_url="http://h"
        ) as http:
            answers.append((await http.get(QUERY, headers=HEADERS)).text)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            for receiver in receivers:
                tg.start_soon(deliver, receiver)
    # one handled it; the others came while it did (409, not acknowledged) or after (200)
    assert answers.count("ok") == 1
    assert set(answers) <= {"ok", "duplicate", "in progress: retry later"}
    for receiver in receivers:
        await deliver(receiver)
        assert answers[-1] == "duplicate"
    for store in stores:
        await store.aclose()
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
    assert await store.claim("k", 600) == "new"
    started = time.monotonic()
    await store.complete("k")
    assert await store.claim("k", 600) == "done"
    with anyio.fail_after(30):
        while await store.claim("k", 600) != "new":  # noqa: ASYNC110 (Redis has no event to wait on)
            await anyio.sleep(0.05)  # a refused claim leaves the key's TTL alone
    assert time.monotonic() - started >= ttl - 0.01
    await store.aclose()


@pytest.mark.anyio
async def test_a_claim_lapses_with_its_lease_and_a_release_never_undoes_a_completion(redis_url: str) -> None:
    store = RedisDedupStore(redis_url, prefix=prefix())
    lease = 1.0
    started = time.monotonic()
    assert await store.claim("k", lease) == "new"
    assert await store.claim("k", lease) == "busy"
    with anyio.fail_after(30):
        while await store.claim("k", lease) != "new":  # noqa: ASYNC110 (Redis has no event to wait on)
            await anyio.sleep(0.05)
    assert time.monotonic() - started >= lease - 0.01
    await store.release("k")
    assert await store.claim("k", lease) == "new"
    await store.complete("k")
    await store.release("k")
    assert await store.claim("k", lease) == "done"
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


@pytest.mark.anyio
async def test_a_redis_that_accepts_and_never_answers_gets_503_not_a_hang() -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def swallow(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                async for _ in stream:  # reads every command, answers none
                    pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, swallow)
            seen: list[Event] = []
            for store, bound in (
                (RedisDedupStore(f"redis://127.0.0.1:{port}/0", timeout=0.2), {}),  # the store's own
                (RedisDedupStore(f"redis://127.0.0.1:{port}/0"), {"store_timeout": 0.2}),  # the receiver's
            ):
                receiver = CallbackReceiver(seen.append, api_secret=SECRET, dedup=store, **bound)
                with anyio.fail_after(10):
                    async with httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=receiver), base_url="http://h"
                    ) as http:
                        assert (await http.get(QUERY, headers=HEADERS)).status_code == 503
                await store.aclose()
            tg.cancel_scope.cancel()
    assert seen == []


_CRASHING_WORKER = """
import sys, anyio
from smsapi_async.webhooks import CallbackReceiver, RedisDedupStore

async def main(url, prefix, query, signature):
    async def hang(event):
        print("handling", flush=True)
        await anyio.sleep_forever()
    store = RedisDedupStore(url, prefix=prefix)
    receiver = CallbackReceiver(hang, api_secret="sandbox-secret", dedup=store,
                                handler_timeout=60, store_timeout=1, claim_lease=63)
    await receiver.handle(query, signature)

anyio.run(main, *sys.argv[1:])
"""


@pytest.mark.anyio
async def test_a_claim_held_by_a_killed_process_blocks_retries_until_its_lease_lapses(redis_url: str) -> None:
    shared = prefix()
    command = [
        sys.executable,
        "-c",
        _CRASHING_WORKER,
        redis_url,
        shared,
        QUERY[2:],
        HEADERS[SIGNATURE_HEADER],
    ]
    with anyio.fail_after(60):
        async with await anyio.open_process(command, stderr=None) as worker:
            assert worker.stdout is not None
            line = await BufferedByteReceiveStream(worker.stdout).receive_until(b"\n", 100)
            assert line == b"handling"  # it holds the claim, in its handler
            worker.kill()  # SIGKILL: no release, no cleanup
            await worker.wait()
    store = RedisDedupStore(redis_url, prefix=shared)
    # the dead process's claim runs on (63 s): a retry is not acknowledged
    seen: list[Event] = []
    receiver = CallbackReceiver(seen.append, api_secret=SECRET, dedup=store)
    assert (await receiver.handle(QUERY[2:], HEADERS[SIGNATURE_HEADER]))[0] == 409
    # the lease lapses (shortened here so the test need not wait a minute): the retry is handled
    key = shared + dedup_digest(parse_callback(QUERY[2:]))
    assert await store._connection.execute("PEXPIRE", key, 200) == 1
    with anyio.fail_after(30):
        while (answer := await receiver.handle(QUERY[2:], HEADERS[SIGNATURE_HEADER]))[0] == 409:  # noqa: ASYNC110
            await anyio.sleep(0.05)
    assert answer == (200, "ok")
    assert len(seen) == 1
    await store.aclose()
