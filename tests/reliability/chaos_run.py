"""One chaos run, shared by the reliability tests and the soak: a bulk send of many recipients and a
concurrent pagination walk against a sandbox that breaks requests on purpose.

The sandbox runs in process (``httpx.ASGITransport``), its chaos switching between a calm phase
(a few 429s, 502 HTML pages, connections dropped before and after the call was processed, answers
slower than the client's timeout) and a 429 storm, every ``STORM_EVERY`` requests. The client's
limiter reads a clock that jumps over every sleep, so pacing, back-offs and 429 pauses cost no real
time; only the slow answers do (each one the client's timeout).

:func:`check` asserts what must hold whatever the faults drawn:

* every recipient ends in exactly one final state;
* the sandbox holds no recipient twice (no duplicate send), and everything reported sent is there;
* nothing refused, rejected or failed went out; what went out without being reported sent is
  ``unknown``;
* the walk saw pages 1..N in order, once each, and every contact once, in the server's order;
* no task outlived the run, and the limiter holds no waiter, no pending reservation, and has
  capacity again once idle past its pause and its 1-second window.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import httpx

from smsapi_async import AsyncSmsClient, BulkProgress, BulkResult, RateLimiter
from smsapi_async.sandbox import (
    AccountConfig,
    ChaosConfig,
    Sandbox,
    SandboxConfig,
    VirtualClock,
    serve_app_in_thread,
)
from smsapi_async.sandbox._state import Contact as SandboxContact
from smsapi_async.sandbox._state import ContactList

TIMEOUT = 0.2
"""The client's timeout (real seconds): a slow answer costs this much."""
SERVED_TIMEOUT = 1.0
"""The same over a socket, to a server thread sharing this process's interpreter lock."""

CALM = ChaosConfig(
    over_limit=0.08,
    server_error=0.08,
    drop_before=0.05,
    drop_after=0.05,
    slow=0.015,
    slow_seconds=SERVED_TIMEOUT * 2,
)
STORM = ChaosConfig(over_limit=0.6, server_error=0.05, drop_after=0.03)
STORM_EVERY = 40
"""Requests per phase: calm, calm, calm, storm, calm, ..."""
FORCED_SENDS = {2: "over_limit", 3: "server_error", 4: "drop_before", 5: "drop_after"}
"""Faults every run meets whatever its draws (by the send call's ordinal): a small served run can
otherwise end before its first storm, and its calm draws may miss a fault for every send."""
FORCED_PAGES = {2: "over_limit"}
"""The same for the walk's page requests (retries included)."""

FINAL_STATES = {"sent", "rejected", "failed", "unknown"}
TEXTS = ("Your code is ready", "Sale: 20% off today", "Reminder: appointment tomorrow at 10:00")


class InstantClock:
    """Virtual time that jumps over every sleep: pacing, back-offs and pauses cost no real time."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


def number(i: int) -> str:
    return f"6141{i:07d}"


def messages(n: int) -> Iterator[dict[str, str]]:
    """``n`` recipients over three texts, with a bad number every 997 and a repeat (same number, same
    text) every 1009: those are rejected before any call (a final state too)."""
    for i in range(n):
        to = "not-a-number" if i % 997 == 5 else number(i - len(TEXTS) if i % 1009 == 7 else i)
        yield {"message": TEXTS[i % len(TEXTS)], "to": to}


@attrs.define
class Log:
    """What the sandbox answered, seen from outside it: every request's call, page and status."""

    requests: int = 0
    sends: int = 0
    page_requests: int = 0
    pages: list[tuple[int, int | None]] = attrs.Factory(list)  # (page asked, status or None if dropped)

    def reset(self) -> None:
        """Start counting again, with the sandbox's ``reset()``: the next round meets the forced faults."""
        self.requests = self.sends = self.page_requests = 0
        self.pages.clear()


def stormy(sandbox: Sandbox, log: Log) -> Any:
    """The sandbox's ASGI app, switching its chaos between calm and storm and logging answers."""
    app = sandbox.app

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        log.requests += 1
        storm = (log.requests // STORM_EVERY) % 4 == 3
        forced: str | None = None
        if scope["path"].startswith("/send-sms"):
            log.sends += 1
            forced = FORCED_SENDS.get(log.sends)
        elif scope["path"].startswith("/get-list"):
            log.page_requests += 1
            forced = FORCED_PAGES.get(log.page_requests)
        # a forced fault still takes the one random draw a request takes, so the draws that follow
        # are those of an unforced run
        chaos = ChaosConfig(**{forced: 1.0}) if forced else STORM if storm else CALM
        sandbox.config = attrs.evolve(sandbox.config, chaos=chaos)
        status: list[int] = []

        async def watched(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await app(scope, receive, watched)
        finally:
            if scope["path"].startswith("/get-list"):
                query = httpx.QueryParams(scope.get("query_string", b"").decode())
                log.pages.append((int(query.get("page", "1")), status[0] if status else None))

    return wrapped


@attrs.define
class Outcome:
    results: list[BulkResult]
    progress: list[BulkProgress]
    pages: list[int]
    walked: list[str]
    expected_members: list[str]
    page_size: int
    sandbox: Sandbox
    limiter: RateLimiter
    clock: InstantClock
    log: Log
    n: int
    tasks_before: set[int]
    tasks_after: set[int]


@asynccontextmanager
async def chaos_client(
    seed: int, served: bool = False
) -> AsyncIterator[tuple[AsyncSmsClient, Sandbox, RateLimiter, Log]]:
    """A client on a stormy sandbox: in process on virtual time, or ``served`` by uvicorn on a real
    loopback socket (real dropped connections and timeouts)."""
    config = SandboxConfig(accounts=(AccountConfig(balance=1e9),), rate_limit=0, delivery_delay=0, seed=seed)
    log = Log()
    limiter = RateLimiter(15, clock=InstantClock())
    account = config.accounts[0]
    options: dict[str, Any] = {"limiter": limiter, "max_retries": 40, "max_retry_wait": 120.0}
    if served:
        sandbox = Sandbox(config, allowed_hosts=())
        with serve_app_in_thread(stormy(sandbox, log)) as url:
            async with AsyncSmsClient(
                account.api_key, account.api_secret, base_url=url, timeout=SERVED_TIMEOUT, **options
            ) as client:
                yield client, sandbox, limiter, log
        return
    sandbox = Sandbox(config, clock=VirtualClock(time.time()))
    async with (
        sandbox.running(),
        AsyncSmsClient(
            account.api_key,
            account.api_secret,
            base_url="http://127.0.0.1",
            transport=httpx.ASGITransport(app=stormy(sandbox, log)),
            timeout=TIMEOUT,
            **options,
        ) as client,
    ):
        yield client, sandbox, limiter, log


def seed_list(sandbox: Sandbox, members: int) -> tuple[int, list[str]]:
    """A contact list of ``members`` numbers put straight into the sandbox's state."""
    account = sandbox.account()
    list_id = sandbox.state.next_id("list")
    contacts = ContactList(id=list_id, name="reliability", created=sandbox.clock.now())
    for i in range(members):
        msisdn = f"6142{i:07d}"
        contacts.members[msisdn] = SandboxContact(list_id=list_id, msisdn=msisdn, created_at=0.0)
    account.lists[list_id] = contacts
    return list_id, list(contacts.members)


async def run_chaos(
    n: int = 10_000,
    members: int = 3_000,
    page_size: int = 50,
    seed: int = 13,
    reconcile: bool = False,
    served: bool = False,
) -> Outcome:
    """One bulk send of ``n`` recipients and a walk of ``members`` contacts at once, under chaos.

    ``reconcile`` looks unknown outcomes up in the sandbox's sent messages (and resends what
    provably did not go out); each look-up costs the in-process sandbox a scan of every recipient,
    so the 10 000-recipient run leaves it off and a smaller run turns it on."""
    async with chaos_client(seed, served) as (client, sandbox, limiter, log):
        return await chaos_round(client, sandbox, limiter, log, n, members, page_size, reconcile)


async def chaos_round(
    client: AsyncSmsClient,
    sandbox: Sandbox,
    limiter: RateLimiter,
    log: Log,
    n: int,
    members: int,
    page_size: int = 50,
    reconcile: bool = False,
) -> Outcome:
    """One bulk send and walk with the client and sandbox of :func:`chaos_client`."""
    list_id, expected = seed_list(sandbox, members)
    tasks_before = {task.id for task in anyio.get_running_tasks()}
    results: list[BulkResult] = []
    progress: list[BulkProgress] = []
    pages: list[int] = []
    walked: list[str] = []

    async def bulk() -> None:
        async with client.sms.send_bulk(
            messages(n),
            batch_size=100,
            reconcile=reconcile,
            reconcile_delay=0,
            on_progress=progress.append,
        ) as run:
            results.extend([r async for r in run])

    async def walk() -> None:
        async for page in client.lists.members(list_id, page_size=page_size).pages():
            pages.append(page.number)
            walked.extend(contact.msisdn for contact in page.items)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(bulk)
            tg.start_soon(walk)
    tasks_after = {task.id for task in anyio.get_running_tasks()}
    return Outcome(
        results=results,
        progress=progress,
        pages=pages,
        walked=walked,
        expected_members=expected,
        page_size=page_size,
        sandbox=sandbox,
        limiter=limiter,
        clock=limiter.clock,  # type: ignore[arg-type]
        log=log,
        n=n,
        tasks_before=tasks_before,
        tasks_after=tasks_after,
    )


def deliveries(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    """How many times each (number, text) is a recipient of a message the sandbox accepted."""
    return Counter((r.msisdn, r.text) for m in sandbox.state.messages.values() for r in m.recipients)


def faults(outcome: Outcome) -> Counter[str | None]:
    """The faults the sandbox drew, by name (``None``: none), over its request log."""
    assert len(outcome.sandbox.requests) == outcome.log.requests, "the sandbox's log overflowed"
    return Counter(entry["fault"] for entry in outcome.sandbox.requests)


def check(outcome: Outcome) -> Counter[str]:
    """Assert every invariant of the run (see the module docstring); returns the count per state."""
    results, n = outcome.results, outcome.n
    # every recipient in exactly one final state
    assert sorted(r.index for r in results) == list(range(n))
    states = Counter(r.status for r in results)
    assert set(states) <= FINAL_STATES, states
    assert outcome.progress[-1].done == n
    # no duplicate send: the sandbox holds each number at most once, across all its messages
    delivered = deliveries(outcome.sandbox)
    assert delivered, "nothing went out at all"
    assert max(delivered.values()) == 1, delivered.most_common(3)
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    by_state: dict[str, set[tuple[str, str]]] = {state: set() for state in FINAL_STATES}
    for r in results:
        if r.number is not None:
            by_state[r.status].add((r.number, texts[r.index]))
    assert by_state["sent"] <= set(delivered)  # reported sent: it is there
    assert set(delivered) <= by_state["sent"] | by_state["unknown"]  # nothing else went out
    assert {r.message_id for r in results if r.status == "sent"} <= set(outcome.sandbox.state.messages)
    # the chaos did happen, to sends and to pages: the forced faults at least, as the sandbox saw them
    for call, forced in (("send-sms", FORCED_SENDS), ("get-list", FORCED_PAGES)):
        seen = [entry["fault"] for entry in outcome.sandbox.requests if entry["call"] == call]
        assert [seen[k - 1] for k in sorted(forced)] == [forced[k] for k in sorted(forced)], (call, seen)
    assert outcome.progress[-1].rate_limited > 0
    assert any(status != 200 for _, status in outcome.log.pages)
    # the walk: pages 1..N in order, once each; every contact once, in the server's order
    expected = outcome.expected_members
    assert outcome.pages == list(range(1, -(-len(expected) // outcome.page_size) + 1))
    assert outcome.walked == expected
    # nothing leaked
    assert outcome.tasks_after == outcome.tasks_before
    limiter = outcome.limiter
    assert limiter.waiting == 0
    assert limiter.pending == 0
    # idle past the last pause and a whole window of sends (plus margin): a grant is due at once
    outcome.clock.time += limiter.paused_for() + 2.0
    assert limiter.has_capacity()
    return states


if __name__ == "__main__":  # profiling aid: python tests/reliability/chaos_run.py
    import cProfile

    cProfile.run("anyio.run(run_chaos)", sort="cumulative")
