"""The calls of a bulk send: each journaled before it is made, its outcome journaled and reported after.

A call's intent is journaled at the moment the limiter grants it, just before its request leaves,
not when a worker picks the call up: with the limiter saturated, the workers hold calls for
seconds before their turn, and a run stopped (killed, cancelled) then must leave no intent behind
for calls that never went out, or the next run would report them ``unknown`` instead of sending
them. It also puts the journal's write where it costs nothing: right after a grant, the furthest
point from the next one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from .._exceptions import OutcomeUnknownError, ResponseParseError, SmsApiError
from .._journal import FAILED, SENT, UNKNOWN, Journal, JournalError, RunMark
from .._limiter import Reservation
from .._pagination import MAX_PAGE_SIZE
from ._batches import Batch, Bloom
from ._input import Template
from ._results import BulkResult

if TYPE_CHECKING:
    from .._client import AsyncSmsClient

T = TypeVar("T")

_LISTED_IN_FAILS: Final = "refused by the API (listed in fails)"
_SKIPPED: Final = "skipped by the API (not among the message's recipients)"

_ON_GRANT: ContextVar[Callable[[], None] | None] = ContextVar("smsapi_bulk_on_grant", default=None)
"""What the call being made in this task does when the limiter grants it (journal its intent)."""


def granted() -> None:
    """The limiter has just granted the current task's call: run its ``on grant`` step, if any."""
    on_grant = _ON_GRANT.get()
    if on_grant is not None:
        on_grant()


class CountingLimiter:
    """Passes calls through to the client's limiter and counts the 429 pauses it is asked for.

    Without a limiter (``rate_limit=None``) it still honours a pause, as the client's own
    back-off would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pauses = 0
        self._paused_until = 0.0

    async def acquire(self) -> None:
        if self.inner is not None:
            await self.inner.acquire()
        else:
            wait = self._paused_until - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
        granted()

    def pause(self, seconds: float) -> None:
        self.pauses += 1
        if self.inner is not None:
            self.inner.pause(seconds)
        else:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def paused_for(self) -> float:
        paused_for = getattr(self.inner, "paused_for", None)
        if callable(paused_for):
            return float(paused_for())
        return max(0.0, self._paused_until - time.monotonic()) if self.inner is None else 0.0

    def request_sent(self) -> None:
        request_sent = getattr(self.inner, "request_sent", None)
        if callable(request_sent):
            request_sent()


class Calls:
    """Makes a bulk send's calls and counts them (``made``, and ``times`` for the recent rate).

    ``held`` holds, per de-duplication key (``dedup_key`` of a call's template), the numbers of
    recipients accepted but not journaled yet, with their input index (the producer's duplicate
    check); ``mark`` says how far the input was read, for the journal; ``emit`` reports results;
    with ``reconcile`` an unknown outcome is left to reconciliation.
    """

    def __init__(
        self,
        client: AsyncSmsClient,
        *,
        bloom: Bloom,
        held: dict[str, dict[str, int]],
        dedup_key: Callable[[Template], str],
        mark: Callable[[], RunMark],
        emit: Callable[[list[BulkResult]], Awaitable[None]],
        reconcile: bool,
    ) -> None:
        self.client = client
        reserve = client._reserve
        if reserve is not None:
            # the client asks the limiter for a grant through reserve() when it has one, and
            # through acquire() (the CountingLimiter's) otherwise: both say when a grant comes
            async def reserve_and_tell(*args: Any, **kwargs: Any) -> Reservation:
                reservation = await reserve(*args, **kwargs)  # the client's lane and queue deadline
                try:
                    granted()
                except BaseException:
                    reservation.not_sent()
                    raise
                return reservation

            client._reserve = reserve_and_tell
        self.journal: Journal | None = None  # set when the bulk send opens it
        self.made = 0
        self.times: deque[float] = deque(maxlen=256)
        self._bloom = bloom
        self._held = held
        self.dedup_key = dedup_key
        self._mark = mark
        self.emit = emit
        self._reconcile = reconcile

    async def work(self, batches: MemoryObjectReceiveStream[Batch], ahead: anyio.Semaphore) -> None:
        """Make the calls of batches received, one after the other (one of the concurrent workers).

        A worker takes a batch only with one of ``ahead``'s tokens, given back when the limiter
        grants its call: so at most that many calls wait for a grant, however many are in flight.
        The input is read, checked and coalesced just ahead of the limiter, not seconds ahead in
        one burst of CPU that would make the limiter's own timers late.
        """
        async with batches:
            while True:
                await ahead.acquire()
                try:
                    batch = await batches.receive()
                except anyio.EndOfStream:
                    ahead.release()
                    return
                await self.call(batch, ahead.release)

    def _begin(self, batch: Batch) -> int:
        """Journal the call's intent (it is about to be made); returns its id in the journal."""
        journal = self.journal
        assert journal is not None
        # how far the input was read, and its digest, at the same moment
        batch_id = journal.begin(
            batch.template.key, batch.template.options, batch.recipients, self._mark(), time.time()
        )
        key = self.dedup_key(batch.template)
        held = self._held.get(key, {})
        for _, _, number in batch.recipients:
            self._bloom.add(key, number)
            held.pop(number, None)  # the journal knows it now
        if not held:
            self._held.pop(key, None)
        self.made += 1
        self.times.append(time.monotonic())
        return batch_id

    async def call(self, batch: Batch, waited: Callable[[], None]) -> None:
        """Make the call, its intent journaled when the limiter grants it; journal and report its
        outcome (one result per recipient). ``waited`` is called once, at the grant or at the end."""
        journal = self.journal
        assert journal is not None
        begun: list[int] = []  # the call's id in the journal, once its intent is written
        waiting = True

        def done_waiting() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                waited()

        def on_grant() -> None:
            if not begun:  # a retry after a 429 is granted again: one intent per call
                begun.append(self._begin(batch))
            done_waiting()

        def batch_id() -> int:
            # a call that failed before any grant (e.g. a pause longer than the client may wait)
            # is journaled now, so that its recipients count as seen, as any failed call's do
            on_grant()
            return begun[0]

        token = _ON_GRANT.set(on_grant)
        try:
            await self._call(batch, batch_id)
        finally:
            _ON_GRANT.reset(token)
            done_waiting()

    async def _call(self, batch: Batch, batch_id: Callable[[], int]) -> None:
        journal = self.journal
        assert journal is not None
        numbers = [number for _, _, number in batch.recipients]
        try:
            result = await self.client.sms.send(to=numbers, **batch.template.kwargs)
        except (OutcomeUnknownError, ResponseParseError) as exc:
            journal.finish(batch_id(), UNKNOWN, None, str(exc))
            if not self._reconcile:
                await self.emit(
                    [
                        BulkResult(i, raw, UNKNOWN, number, reason=str(exc), error=exc)
                        for i, raw, number in batch.recipients
                    ]
                )
            return
        except JournalError:
            raise  # writing the intent failed: nothing was sent, and the journal cannot say so
        except SmsApiError as exc:
            # refused by the API, or never sent (connection refused, rate limit beyond every retry)
            journal.finish(batch_id(), FAILED, None, str(exc))
            await self.emit(
                [
                    BulkResult(i, raw, FAILED, number, reason=str(exc), error=exc)
                    for i, raw, number in batch.recipients
                ]
            )
            return
        journal.finish(batch_id(), SENT, result.message_id, "")
        await anyio.lowlevel.checkpoint()  # let a limiter timer due now fire before the results
        refused = dict.fromkeys(result.fails, _LISTED_IN_FAILS)
        # an answer without a count (0) says nothing; a count below what was sent says some were skipped
        if 0 < result.recipients < len(numbers) - len(refused):
            refused.update(await self.skipped(result.message_id, numbers, refused))
        for reason in set(refused.values()):
            journal.finish_recipients(
                batch_id(), {n for n, why in refused.items() if why == reason}, FAILED, reason
            )
        await self.emit(
            [
                BulkResult(i, raw, FAILED, number, reason=refused[number])
                if number in refused
                else BulkResult(i, raw, SENT, number, result.message_id)
                for i, raw, number in batch.recipients
            ]
        )

    async def skipped(
        self, message_id: int, numbers: list[str], refused: Mapping[str, str]
    ) -> dict[str, str]:
        """The numbers of a send that the API accepted for fewer recipients than it was given.

        The API skips numbers it cannot use (a local number without ``countrycode``, say) without
        failing the call and, today, without naming them. The message's own recipient list
        (``get-sms-sent``) says who it went to; the rest were skipped. If that list cannot be read,
        nothing is marked: the recipients stay reported as sent, as the API answered.
        """
        try:
            accepted = await self.read(
                lambda: self.client.sms.sent(message_id, page_size=MAX_PAGE_SIZE).to_list()
            )
        except SmsApiError:
            return {}
        went = {recipient.msisdn for recipient in accepted}
        return {number: _SKIPPED for number in numbers if number not in went and number not in refused}

    async def read(self, read: Callable[[], Awaitable[T]]) -> T:
        """A reconciliation look-up: a read, so safe to repeat beyond the client's own retries."""
        for attempt in range(3):
            self.made += 1
            self.times.append(time.monotonic())
            try:
                return await read()
            except SmsApiError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def send(self, batches: list[Batch], concurrency: int, ahead: int) -> None:
        """Make ``batches``' calls, ``concurrency`` at a time (a resend after reconciliation)."""
        batches_send, batches_receive = anyio.create_memory_object_stream[Batch](len(batches))
        tokens = anyio.Semaphore(ahead)
        async with anyio.create_task_group() as workers:
            for _ in range(min(concurrency, len(batches))):
                workers.start_soon(self.work, batches_receive.clone(), tokens)
            batches_receive.close()
            async with batches_send:
                for batch in batches:
                    await batches_send.send(batch)
