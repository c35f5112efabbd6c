"""End to end over a real socket against a sandbox in chaos mode (429s, 502 pages, dropped
connections before and after processing): reads end in success or a typed error, never hang, and a
send with an unknown outcome is never resent."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import attrs
import pytest

from smsapi_async import (
    AsyncSmsClient,
    OutcomeUnknownError,
    RateLimitError,
    SmsApiError,
)
from smsapi_async.sandbox import ChaosConfig, SandboxConfig
from smsapi_async.testing import SandboxHarness, served_sandbox_client

SEED = 20240611
READ_TIMEOUT = 10  # seconds for one read, retries included (max_retry_wait bounds them to ~1 s)
ALICE = "61491570151"


@pytest.fixture
async def harness(anyio_backend: str) -> AsyncIterator[SandboxHarness]:
    """A served sandbox without chaos (each test turns it on), no rate limit on either side, and
    a client that gives up after about a second of retrying."""
    config = SandboxConfig(rate_limit=0, delivery_delay=0, seed=SEED)
    async with served_sandbox_client(
        config, rate_limit=None, max_retries=3, max_retry_wait=1.0, timeout=5
    ) as h:
        yield h


def set_chaos(harness: SandboxHarness, **faults: float) -> None:
    """Switch the served sandbox's chaos on (the app reads ``sandbox.config`` on every request)."""
    harness.sandbox.config = attrs.evolve(harness.sandbox.config, chaos=ChaosConfig(**faults))


def send_requests(harness: SandboxHarness) -> list[dict[str, Any]]:
    return [entry for entry in harness.sandbox.requests if entry["call"] == "send-sms"]


def reads(client: AsyncSmsClient) -> list[Callable[[], Awaitable[object]]]:
    return [
        client.account.balance,
        lambda: client.lists.list().to_list(),
        lambda: client.numbers.list().to_list(),
        lambda: client.keywords.list().to_list(),
        lambda: client.sms.user_responses().to_list(),
        lambda: client.call("get-balance"),
    ]


@pytest.mark.anyio
async def test_reads_under_chaos_end_in_success_or_a_typed_error_and_never_hang(
    harness: SandboxHarness,
) -> None:
    set_chaos(
        harness,
        over_limit=0.2,
        server_error=0.2,
        drop_before=0.1,
        drop_after=0.1,
        slow=0.05,
        slow_seconds=0.05,
    )
    outcomes: list[object] = []

    async def read(call: Callable[[], Awaitable[object]]) -> None:
        with anyio.fail_after(READ_TIMEOUT):
            try:
                outcomes.append(await call())
            except SmsApiError as exc:  # anything else fails the test
                outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            for call in reads(harness.client):
                tg.start_soon(read, call)

    assert len(outcomes) == 30
    faults = {entry["fault"] for entry in harness.sandbox.requests}
    assert {"over_limit", "server_error", "drop_before", "drop_after"} <= faults  # chaos did happen
    assert any(not isinstance(o, SmsApiError) for o in outcomes)  # and retries got reads through
    assert {entry["status"] for entry in harness.sandbox.requests} <= {200, 429, 502}


@pytest.mark.anyio
async def test_send_dropped_after_processing_raises_outcome_unknown_and_is_not_resent(
    harness: SandboxHarness,
) -> None:
    set_chaos(harness, drop_after=1.0)
    with anyio.fail_after(READ_TIMEOUT), pytest.raises(OutcomeUnknownError) as caught:
        await harness.client.sms.send(message="maybe", to=ALICE)
    assert caught.value.call == "send-sms"
    assert caught.value.status_code is None  # no answer came back at all
    assert len(send_requests(harness)) == 1  # never resent
    (message,) = harness.sandbox.state.messages.values()  # ... although it was sent
    assert message.text == "maybe"

    set_chaos(harness)  # reconcile, as the error says: the message is there
    sent = [m async for m in harness.client.sms.sent(message_id=message.id)]
    assert [r.msisdn for r in sent] == [ALICE]


@pytest.mark.anyio
async def test_send_answered_by_a_502_page_raises_outcome_unknown_and_is_not_resent(
    harness: SandboxHarness,
) -> None:
    set_chaos(harness, server_error=1.0)
    with anyio.fail_after(READ_TIMEOUT), pytest.raises(OutcomeUnknownError) as caught:
        await harness.client.sms.send(message="lost", to=ALICE)
    assert caught.value.status_code == 502
    assert [e["status"] for e in send_requests(harness)] == [502]
    assert harness.sandbox.state.messages == {}  # the gateway never passed it on


@pytest.mark.anyio
async def test_send_dropped_before_processing_raises_outcome_unknown_and_is_not_resent(
    harness: SandboxHarness,
) -> None:
    set_chaos(harness, drop_before=1.0)
    with anyio.fail_after(READ_TIMEOUT), pytest.raises(OutcomeUnknownError):
        await harness.client.sms.send(message="lost", to=ALICE)
    assert len(send_requests(harness)) == 1
    assert harness.sandbox.state.messages == {}


@pytest.mark.anyio
async def test_rate_limited_send_is_resent_because_the_server_dropped_it(harness: SandboxHarness) -> None:
    set_chaos(harness, over_limit=1.0)
    with anyio.fail_after(READ_TIMEOUT), pytest.raises(RateLimitError):
        await harness.client.sms.send(message="later", to=ALICE)
    refused = send_requests(harness)
    assert 2 <= len(refused) <= 4  # resent until max_retry_wait (1 s) ran out
    assert {(e["status"], e["code"]) for e in refused} == {(429, "OVER_LIMIT")}
    assert harness.sandbox.state.messages == {}

    # a seeded draw that refuses the first attempt and lets the second through: sent exactly once
    before = len(refused)
    harness.sandbox.rng = random.Random(next(s for s in range(1000) if _refuses_then_accepts(s)))
    set_chaos(harness, over_limit=0.5)
    with anyio.fail_after(READ_TIMEOUT):
        sent = await harness.client.sms.send(message="later", to=ALICE)
    assert [e["status"] for e in send_requests(harness)][before:] == [429, 200]
    assert list(harness.sandbox.state.messages) == [sent.message_id]


def _refuses_then_accepts(seed: int) -> bool:
    rng = random.Random(seed)
    return rng.random() < 0.5 <= rng.random()
