"""client.sms.send_bulk against the in-process sandbox: fewest calls, per-recipient results, bad input,
bounded memory, chaos (every recipient in exactly one final state, no duplicate delivery), journal."""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest

import smsapi_async._numbers as numbers_module
from smsapi_async import (
    AsyncSmsClient,
    BulkProgress,
    BulkResult,
    InvalidRequestError,
    JournalError,
    JournalMismatchError,
    OutgoingMessage,
    RateLimiter,
    SQLiteJournal,
)
from smsapi_async._bulk._batches import Bloom
from smsapi_async.sandbox import AccountConfig, ChaosConfig, SandboxConfig
from smsapi_async.testing import SandboxHarness, sandbox_client, served_sandbox_client

pytestmark = pytest.mark.anyio

RICH = SandboxConfig(accounts=(AccountConfig(balance=1e9),), rate_limit=0, delivery_delay=0, seed=11)


@pytest.fixture
async def harness(anyio_backend: str) -> AsyncIterator[SandboxHarness]:
    async with sandbox_client(RICH, max_retry_wait=5.0) as h:
        yield h


def number(i: int) -> str:
    return f"6140{i:07d}"


def send_calls(h: SandboxHarness) -> list[dict[str, Any]]:
    return [entry for entry in h.sandbox.requests if entry["call"] == "send-sms"]


def deliveries(h: SandboxHarness) -> Counter[tuple[str, str]]:
    """(number, text) of every recipient of every message the sandbox accepted."""
    return Counter((r.msisdn, r.text) for m in h.sandbox.state.messages.values() for r in m.recipients)


async def collect(h: SandboxHarness, messages: Any, **options: Any) -> list[BulkResult]:
    async with h.client.sms.send_bulk(messages, **options) as results:
        return [r async for r in results]


async def test_one_text_to_many_goes_in_ceil_n_over_500_calls(harness: SandboxHarness) -> None:
    n = 1234
    results = await collect(harness, ({"message": "Sale today", "to": number(i)} for i in range(n)))
    assert len(send_calls(harness)) == math.ceil(n / 500) == 3
    assert Counter(r.status for r in results) == {"sent": n}
    assert sorted(r.index for r in results) == list(range(n))
    ids = {r.message_id for r in results}
    assert len(ids) == 3
    assert ids == set(harness.sandbox.state.messages)
    assert all(count == 1 for count in deliveries(harness).values())
    assert len(deliveries(harness)) == n


async def test_batch_size_lower_than_500(harness: SandboxHarness) -> None:
    results = await collect(
        harness, [OutgoingMessage(message="hi", to=number(i)) for i in range(250)], batch_size=100
    )
    assert len(send_calls(harness)) == 3
    assert {r.status for r in results} == {"sent"}


async def test_personalised_texts_and_other_options_are_separate_calls(harness: SandboxHarness) -> None:
    messages = [
        {"message": "Hi Ann", "to": number(1)},
        {"message": "Hi Bob", "to": number(2)},
        {"message": "Hi all", "to": [number(3), number(4)]},
        {"message": "Hi all", "to": f"{number(5)},{number(6)}"},
        {"message": "Hi all", "to": number(7), "from": "Shop"},
        {"message": "Hi all", "to": number(8), "from_": "Shop", "validity": "30"},
    ]
    results = await collect(harness, messages)
    assert Counter(r.status for r in results) == {"sent": 8}
    # Ann, Bob, "Hi all" x4 numbers, "Hi all" from Shop, "Hi all" from Shop valid 30 min
    assert len(send_calls(harness)) == 5
    by_number = {r.number: r for r in results}
    assert by_number[number(3)].message_id == by_number[number(6)].message_id
    assert by_number[number(7)].message_id != by_number[number(8)].message_id


async def test_async_iterables_are_read_as_they_come(harness: SandboxHarness) -> None:
    async def rows() -> AsyncIterator[dict[str, str]]:
        for i in range(20):
            await anyio.lowlevel.checkpoint()
            yield {"message": "async", "to": number(i)}

    results = await collect(harness, rows())
    assert len(results) == 20
    assert len(send_calls(harness)) == 1


async def test_bad_items_are_rejected_with_a_reason_and_the_rest_proceeds(harness: SandboxHarness) -> None:
    messages: list[Any] = [
        {"message": "ok", "to": number(1)},
        {"message": "ok", "to": "not a number"},
        {"message": "   ", "to": number(2)},
        {"message": "x" * 613, "to": number(3)},
        {"message": "ok", "to": ""},
        {"mesage": "typo", "to": number(4)},
        "just a string",
        {"message": "ok", "to": number(5), "from_": "way too long sender"},
        {"message": "ok", "to": number(6), "validity": "soon"},
        {"message": "ok", "to": [number(7), 12345]},
        {"message": "ok", "to": number(8)},
        {"message": "ok", "to": number(9), "countrycode": "A\ud800"},  # would break the journal after a grant
    ]
    results = await collect(harness, messages)
    by_index = {r.index: r for r in results}
    assert len(results) == len(messages)
    assert by_index[0].status == "sent"
    assert by_index[10].status == "sent"
    for index, fragment in [
        (1, "not a phone number"),
        (2, "no message text"),
        (3, "612"),
        (4, "no recipient"),
        (5, "unknown key(s) 'mesage'"),
        (6, "expected an OutgoingMessage or a mapping"),
        (7, "alphanumeric sender"),
        (8, "validity"),
        (9, "to must be"),
        (11, "countrycode is not valid Unicode"),
    ]:
        assert by_index[index].status == "rejected", index
        assert fragment in by_index[index].reason, (index, by_index[index].reason)
    assert len(send_calls(harness)) == 1


async def test_unknown_keys_can_be_ignored_for_csv_rows(harness: SandboxHarness) -> None:
    row = {"message": "hi", "to": number(1), "firstname": "Ann", "from_shared": "", "validity": ""}
    results = await collect(harness, [row], ignore_unknown_keys=True)
    assert [r.status for r in results] == ["sent"]


async def test_max_parts_rejects_before_any_call(harness: SandboxHarness) -> None:
    results = await collect(
        harness, [{"message": "a" * 161, "to": number(1)}, {"message": "short", "to": number(2)}], max_parts=1
    )
    assert [r.status for r in sorted(results, key=lambda r: r.index)] == ["rejected", "sent"]
    assert "max_parts=1" in results[0].reason or "max_parts=1" in results[1].reason
    assert len(send_calls(harness)) == 1


NORMALISED = [
    {"message": "one", "to": "+61 491 570 156"},
    {"message": "one", "to": "0491 570 156", "countrycode": "AU"},  # other options: own group
    {"message": "one", "to": "61491570156"},
    {"message": "one", "to": "(61) 491-570-156, 61491570157"},
    {"message": "two", "to": "61491570156"},
]


async def test_numbers_are_normalised_and_each_gets_one_message_per_run(harness: SandboxHarness) -> None:
    results = await collect(harness, NORMALISED)
    statuses = Counter((r.index, r.status) for r in results)
    assert statuses == {
        (0, "sent"): 1,
        (1, "rejected"): 1,  # the same number, whatever its spelling, options or text
        (2, "rejected"): 1,
        (3, "rejected"): 1,
        (3, "sent"): 1,
        (4, "rejected"): 1,
    }
    for result in results:
        if result.status == "rejected":
            assert result.reason.startswith("duplicate")
            assert (result.number, result.duplicate_of) == ("61491570156", 0)
    assert deliveries(harness)[("61491570156", "one")] == 1


async def test_allow_repeats_sends_once_per_number_and_text(harness: SandboxHarness) -> None:
    results = await collect(harness, NORMALISED, allow_repeats=True)
    statuses = Counter((r.index, r.status) for r in results)
    assert statuses == {
        (0, "sent"): 1,
        (1, "sent"): 1,
        (2, "rejected"): 1,
        (3, "rejected"): 1,
        (3, "sent"): 1,
        (4, "sent"): 1,
    }
    duplicate = next(r for r in results if r.index == 2)
    assert duplicate.reason.startswith("duplicate")
    assert duplicate.number == "61491570156"
    assert next(r for r in results if r.index == 1).number == "61491570156"


async def test_a_duplicate_of_a_call_still_queued_is_caught(harness: SandboxHarness) -> None:
    messages = [{"message": "dup", "to": number(i % 2)} for i in range(6)]
    results = await collect(harness, messages, batch_size=2, concurrency=1)
    assert Counter(r.status for r in results) == {"sent": 2, "rejected": 4}
    assert len(harness.sandbox.state.messages) == 1
    assert max(deliveries(harness).values()) == 1


async def test_known_optouts_are_dropped(harness: SandboxHarness) -> None:
    results = await collect(
        harness, [{"message": "hi", "to": [number(1), "+" + number(2)]}], optouts={number(2)}
    )
    assert {r.number: (r.status, r.reason) for r in results} == {
        number(1): ("sent", ""),
        number(2): ("rejected", "opted out"),
    }


async def test_api_refusal_fails_the_recipients_with_a_typed_error(harness: SandboxHarness) -> None:
    poor = attrs.evolve(RICH, accounts=(AccountConfig(balance=0.01),))
    async with sandbox_client(poor) as h:
        results = await collect(h, [{"message": "hi", "to": [number(1), number(2)]}])
    assert {r.status for r in results} == {"failed"}
    assert all(type(r.error).__name__ == "InsufficientFundsError" for r in results)


async def test_memory_stays_bounded_while_the_consumer_is_slow(harness: SandboxHarness) -> None:
    pulled = 0

    def rows() -> Iterator[dict[str, str]]:
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield {"message": "stream", "to": number(i)}

    async with harness.client.sms.send_bulk(rows(), max_pending=1000, concurrency=2) as results:
        first = await results.__anext__()
        await anyio.sleep(0.3)  # the producer runs ahead only as far as the buffers allow
        assert first.status == "sent"
        # pending + a batch per worker + the queue between them + the results buffer (4 calls' worth)
        assert pulled <= 1000 + 2 * 500 + 2 * 500 + 4 * 500 + 500
    assert pulled < 10_000


async def test_progress_reports_counts_calls_and_rate(harness: SandboxHarness) -> None:
    seen: list[BulkProgress] = []
    results = await collect(
        harness,
        [{"message": "p", "to": number(i)} for i in range(1200)] + [{"message": "p", "to": "bad"}],
        on_progress=seen.append,
    )
    assert len(results) == 1201
    final = seen[-1]
    assert (final.done, final.total, final.sent, final.rejected, final.calls) == (1201, 1201, 1200, 1, 3)
    assert final.rate > 0
    assert [p.done for p in seen] == sorted(p.done for p in seen)


async def test_calls_overlap_so_the_limiter_is_never_idle(anyio_backend: str) -> None:
    """20 calls at 10/s to a server answering in 0.3 s: one after the other they would take 6 s;
    overlapped, the limiter's pace (about 2 s) sets the time. Checked at the server, where no
    busy machine can blur it: calls were in flight together, and the run took less time than
    the answers alone would have one after the other."""
    answered = in_flight = most_in_flight = 0

    async def slow_server(request: httpx.Request) -> httpx.Response:
        nonlocal answered, in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await anyio.sleep(0.3)
        in_flight -= 1
        answered += 1
        return httpx.Response(200, json={"message_id": answered, "error": {"code": "SUCCESS"}})

    transport = httpx.MockTransport(slow_server)
    async with AsyncSmsClient("key", "secret", transport=transport, rate_limit=10) as client:
        started = time.monotonic()
        async with client.sms.send_bulk(rows(2000), batch_size=100) as results:
            progress = await results.wait()
        elapsed = time.monotonic() - started
    assert (progress.sent, progress.calls) == (2000, 20)
    assert most_in_flight >= 2  # one at a time never has two
    assert elapsed < 20 * 0.3  # what the answers alone take one after the other (about 2 s here)


def test_without_phonenumbers_the_apis_countrycode_rules_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers_module, "NORMALISER", "builtin")
    canonical = numbers_module.canonical_number
    assert canonical("0491 570 156", "AU") == "61491570156"
    assert canonical("0491570156", "australia") == "61491570156"
    assert canonical("2513551145", "US") == "12513551145"
    assert canonical("+61 491 570 156", "NZ") == "61491570156"
    assert canonical("0061491570156") == "61491570156"
    assert canonical("0491570156", "XX") == "0491570156"  # unknown country: left to the API
    with pytest.raises(InvalidRequestError):
        canonical("12ab")


async def test_bad_arguments_are_refused_at_once(harness: SandboxHarness) -> None:
    sms = harness.client.sms
    for bad in ({"batch_size": 501}, {"batch_size": 0}, {"concurrency": 0}, {"max_parts": 0}):
        with pytest.raises(InvalidRequestError):
            sms.send_bulk([], **bad)
    with pytest.raises(InvalidRequestError):
        sms.send_bulk("61400000001")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="journal"):
        async with sms.send_bulk([], journal=42):  # type: ignore[arg-type]
            pass


# chaos: 429s, 502 pages, connections dropped before and after the server processed the call


class InstantClock:
    """Virtual time that jumps over every sleep: back-offs and 429 pauses cost no real time."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("reconcile", [True, False])
async def test_under_chaos_every_recipient_ends_in_one_state_and_none_is_delivered_twice(
    anyio_backend: str, reconcile: bool
) -> None:
    chaos = ChaosConfig(over_limit=0.15, server_error=0.1, drop_before=0.1, drop_after=0.1)
    config = attrs.evolve(RICH, chaos=chaos, seed=7)
    seen: list[BulkProgress] = []
    n = 6000
    limiter = RateLimiter(100_000, clock=InstantClock())
    async with sandbox_client(config, limiter=limiter) as h:
        results = await collect(
            h,
            ({"message": f"chaos {i % 3}", "to": number(i)} for i in range(n)),
            batch_size=100,
            reconcile=reconcile,
            reconcile_delay=0,
            on_progress=seen.append,
        )
        delivered = deliveries(h)
    states = Counter(r.status for r in results)
    assert sorted((r.index, r.number) for r in results) == [(i, number(i)) for i in range(n)]
    assert max(delivered.values()) == 1  # zero duplicate deliveries
    sent = {r.number for r in results if r.status == "sent"}
    assert sent <= {msisdn for msisdn, _ in delivered}
    unknown = {r.number for r in results if r.status == "unknown"}
    if reconcile:
        assert states["unknown"] == 0
        assert states["failed"] < n / 10
        assert sent == {msisdn for msisdn, _ in delivered}
    else:
        assert states["unknown"] > 0
        assert {msisdn for msisdn, _ in delivered} <= sent | unknown
    assert seen[-1].rate_limited > 0
    assert seen[-1].done == n


async def test_over_a_real_socket_under_chaos_nothing_is_lost_or_delivered_twice(anyio_backend: str) -> None:
    chaos = ChaosConfig(over_limit=0.1, server_error=0.1, drop_before=0.1, drop_after=0.1)
    config = attrs.evolve(RICH, chaos=chaos, seed=3)
    limiter = RateLimiter(100_000, clock=InstantClock())  # back-offs cost no real time
    n = 2000
    async with served_sandbox_client(config, limiter=limiter, timeout=10) as h:
        results = await collect(
            h,
            ({"message": f"served {i % 2}", "to": number(i)} for i in range(n)),
            batch_size=50,
            reconcile=True,
            reconcile_delay=0,
        )
        delivered = deliveries(h)
    assert sorted((r.index, r.number) for r in results) == [(i, number(i)) for i in range(n)]
    assert max(delivered.values()) == 1
    assert {r.number for r in results if r.status == "sent"} == {msisdn for msisdn, _ in delivered}
    assert not [r for r in results if r.status == "unknown"]


# the journal


class Crash(Exception):
    """Stands for the process dying between a call and the journal recording its outcome."""


class CrashingJournal(SQLiteJournal):
    def __init__(self, path: Path, crash_at: int) -> None:
        super().__init__(path)
        self.crash_at = crash_at
        self.finished = 0

    def finish(self, batch_id: int, state: str, message_id: int | None, reason: str) -> None:
        self.finished += 1
        if self.finished == self.crash_at:
            raise Crash("killed before the outcome was written")
        super().finish(batch_id, state, message_id, reason)


def rows(n: int, text: str = "journal") -> list[dict[str, str]]:
    return [{"message": text, "to": number(i)} for i in range(n)]


async def test_a_crashed_run_resumes_sending_nothing_twice_and_skipping_nothing(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    journal = CrashingJournal(path, crash_at=3)
    with pytest.raises(Crash):
        await collect(harness, rows(2000), journal=journal, batch_size=100, concurrency=1)
    journal.close()
    first = len(send_calls(harness))
    assert 3 <= first < 20

    # the call whose outcome was never written is unknown: reported, not resent
    results = await collect(harness, rows(2000), journal=path, batch_size=100)
    assert sorted((r.index, r.number) for r in results) == [(i, number(i)) for i in range(2000)]
    states = Counter((r.status, r.resumed) for r in results)
    assert states[("unknown", True)] == 100
    assert states[("sent", True)] == 200
    assert states[("sent", False)] == 1700
    assert max(deliveries(harness).values()) == 1
    assert len(deliveries(harness)) == 2000
    assert len(send_calls(harness)) == first + 17

    # a third run with reconciliation settles it as sent, still without sending anything
    calls = len(send_calls(harness))
    results = await collect(
        harness, rows(2000), journal=path, batch_size=100, reconcile=True, reconcile_delay=0
    )
    assert Counter(r.status for r in results) == {"sent": 2000}
    assert len(send_calls(harness)) == calls


async def test_a_cancelled_run_resumes(harness: SandboxHarness, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    async with harness.client.sms.send_bulk(rows(3000), journal=path, batch_size=100) as results:
        async for result in results:
            if result.index > 500:
                break  # leaving the block cancels the rest
    results_2 = await collect(
        harness, rows(3000), journal=path, batch_size=100, reconcile=True, reconcile_delay=0
    )
    assert Counter(r.status for r in results_2) == {"sent": 3000}
    assert max(deliveries(harness).values()) == 1
    assert len(deliveries(harness)) == 3000


async def test_a_failed_call_is_sent_again_on_the_next_run(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "run.db"
    poor = attrs.evolve(RICH, accounts=(AccountConfig(balance=0.01),))
    async with sandbox_client(poor) as h:
        first = await collect(h, rows(10), journal=path)
        assert {r.status for r in first} == {"failed"}
        h.sandbox.state.accounts[next(iter(h.sandbox.state.accounts))].balance = 1000
        second = await collect(h, rows(10), journal=path)
        assert {r.status for r in second} == {"sent"}
        assert len(deliveries(h)) == 10


async def test_a_journal_of_another_input_is_refused_and_nothing_is_sent(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    await collect(harness, rows(300), journal=path, batch_size=100)
    calls = len(send_calls(harness))
    with pytest.raises(JournalMismatchError, match="another input"):
        await collect(harness, rows(300, text="other text"), journal=path, batch_size=100)
    with pytest.raises(JournalMismatchError, match="another input"):
        await collect(harness, rows(100), journal=path, batch_size=100)  # shorter
    assert len(send_calls(harness)) == calls


async def test_a_corrupt_journal_is_refused_and_nothing_is_sent(
    harness: SandboxHarness, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError):
        await collect(harness, rows(10), journal=garbage)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not a bulk-send journal"):
        await collect(harness, rows(10), journal=other)
    assert send_calls(harness) == []


async def test_numbers_the_api_skips_without_naming_them_are_failed_not_reported_sent(
    harness: SandboxHarness,
) -> None:
    # a local number with no countrycode: the API skips it silently (recipients 1 of 2, no fails)
    results = await collect(harness, [{"message": "hi", "to": [number(1), "0400000002"]}])
    by_number = {r.number: r for r in results}
    assert by_number[number(1)].status == "sent"
    assert by_number["0400000002"].status == "failed"
    assert by_number["0400000002"].reason == "skipped by the API (not among the message's recipients)"
    assert set(deliveries(harness)) == {(number(1), "hi")}
    assert [e["call"] for e in harness.sandbox.requests] == ["send-sms", "get-sms-sent"]


async def test_a_send_whose_count_matches_costs_no_extra_call(harness: SandboxHarness) -> None:
    results = await collect(harness, [{"message": "hi", "to": [number(1), number(2)]}])
    assert {r.status for r in results} == {"sent"}
    assert [e["call"] for e in harness.sandbox.requests] == ["send-sms"]


class Gate:
    """A limiter (``acquire`` and ``pause`` only) that grants as many calls as the test allows."""

    def __init__(self) -> None:
        self.allowed = 0.0
        self.granted = 0
        self.waiting = 0
        self._changed = anyio.Event()
        self._arrived = anyio.Event()

    def allow(self, calls: float = math.inf) -> None:
        self.allowed += calls
        self._changed.set()
        self._changed = anyio.Event()

    async def acquire(self) -> None:
        self.waiting += 1
        self._arrived.set()
        self._arrived = anyio.Event()
        try:
            while self.granted >= self.allowed:
                await self._changed.wait()
        finally:
            self.waiting -= 1
        self.granted += 1

    async def until_waiting(self, callers: int) -> None:
        with anyio.fail_after(30):
            while self.waiting < callers:
                await self._arrived.wait()

    def pause(self, seconds: float) -> None:
        pass


async def test_calls_still_waiting_for_the_limiter_when_a_run_stops_are_sent_by_the_next_run(
    tmp_path: Path, anyio_backend: str
) -> None:
    """Workers hold calls while the limiter is saturated; a run stopped then (cancelled here, killed
    alike) must not leave them journaled as made, or the next run reports them unknown."""
    path = tmp_path / "run.db"
    gate = Gate()
    async with sandbox_client(RICH, limiter=gate) as h:
        gate.allow(3)
        async with h.client.sms.send_bulk(rows(1000), journal=path, batch_size=100, concurrency=8) as run:
            done = 0
            async for result in run:
                assert result.status == "sent"
                done += 1
                if done == 300:
                    break  # three calls made
            await gate.until_waiting(2)  # the next calls held by workers waiting for a grant
        assert len(send_calls(h)) == 3
        gate.allow()
        again = await collect(h, rows(1000), journal=path, batch_size=100)
        assert Counter(r.status for r in again) == {"sent": 1000}
        assert Counter(r.resumed for r in again) == {True: 300, False: 700}
        assert len(send_calls(h)) == 10
        assert len(deliveries(h)) == 1000
        assert max(deliveries(h).values()) == 1


class GrantCounter(RateLimiter):
    grants = 0

    async def reserve(self) -> Any:
        reservation = await super().reserve()
        self.grants += 1
        return reservation


async def test_a_call_is_journaled_when_the_limiter_grants_it_not_before(
    tmp_path: Path, anyio_backend: str
) -> None:
    limiter = GrantCounter(50)
    grants_at_each_intent: list[int] = []

    class Spy(SQLiteJournal):
        def begin(self, *args: Any, **kwargs: Any) -> int:
            grants_at_each_intent.append(limiter.grants)
            return super().begin(*args, **kwargs)

    async with sandbox_client(RICH, limiter=limiter) as h:
        results = await collect(h, rows(120), journal=Spy(tmp_path / "run.db"), batch_size=10)
    assert Counter(r.status for r in results) == {"sent": 120}
    # the n-th intent is written once n calls have been granted (the client's reserve() path)
    assert grants_at_each_intent == list(range(1, 13))


async def test_only_a_few_calls_wait_for_the_limiter_and_the_input_is_read_just_ahead(
    anyio_backend: str,
) -> None:
    """With the limiter saturated, two calls wait for a grant (one to go, the next ready), however
    many workers there are: the input is read, checked and journaled just ahead of the limiter."""
    gate = Gate()
    read = 0

    def counted() -> Iterator[dict[str, str]]:
        nonlocal read
        for row in rows(2000):
            read += 1
            yield row

    async with (
        sandbox_client(RICH, limiter=gate) as h,
        h.client.sms.send_bulk(counted(), batch_size=100, concurrency=8) as run,
    ):
        await gate.until_waiting(2)
        with anyio.move_on_after(0.5):
            await gate.until_waiting(3)  # never, unless more calls are taken than wait well
        assert gate.waiting == 2
        # two calls held, one ready in the queue, one more coalesced: 400 rows, and the next
        assert read <= 500
        gate.allow()
        results = [r async for r in run]
    assert Counter(r.status for r in results) == {"sent": 2000}
    assert len(send_calls(h)) == 20


@pytest.mark.parametrize("durable", [False, True])
def test_the_journal_is_set_to_sync_or_not_before_it_switches_to_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool
) -> None:
    """A new file switched to WAL under SQLite's default (FULL) is synced; the throw-away journal of
    a run without ``journal=`` must not pay that before its first call."""
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", traced)
    SQLiteJournal(tmp_path / "run.db", durable=durable).close()
    pragmas = [s for s in statements if s.startswith("PRAGMA")]
    assert pragmas[:2] == [f"PRAGMA synchronous={'FULL' if durable else 'OFF'}", "PRAGMA journal_mode=WAL"]


def test_the_duplicate_filter_never_forgets_a_pair_and_rarely_guesses() -> None:
    bloom = Bloom()
    added = [number(i) for i in range(0, 600_000, 2)]
    for n in added:
        bloom.add("text and options", n)
    assert all(("text and options", n) in bloom for n in added)  # "no" is certain
    others = [number(i) for i in range(1, 200_001, 2)]
    false_maybe = sum(("text and options", n) in bloom for n in others) + sum(
        ("other text", n) in bloom for n in added[:100_000]
    )
    assert false_maybe / 200_000 < 0.005
