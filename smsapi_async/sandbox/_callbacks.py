"""Callbacks the sandbox makes: a time-ordered job queue and the worker coroutine that runs it.

Jobs are either plain functions run when due (e.g. "this recipient's DLR arrives now") or HTTP
deliveries. A delivery is a signed GET of the callback URL with the event's fields appended to its
query string; a non-2xx answer or a network error is retried after the documented 1 min, 5 min,
1 h and 24 h, each multiplied by ``callback_retry_scale``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import anyio
import attrs
import httpx

from .._signature import SIGNATURE_HEADER, callback_signature
from ._clock import SandboxClock
from ._config import SandboxConfig
from ._state import Account, datetime_text

__all__ = ["AsyncJob", "CallbackDelivery", "CallbackQueue"]


@attrs.define
class CallbackDelivery:
    """One callback event and what happened to its delivery attempts."""

    id: int
    kind: str  # dlr / reply / link-hit / list-action
    account_id: int
    url: str
    params: list[tuple[str, str]]
    signature: str
    created: float
    attempts: list[dict[str, Any]] = attrs.Factory(list)
    status: str = "queued"  # queued / delivered / retrying / failed
    next_attempt: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "account_id": self.account_id,
            "url": self.url,
            "params": dict(self.params),
            "signature": self.signature,
            "created": datetime_text(self.created),
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt": datetime_text(self.next_attempt),
        }


@attrs.frozen
class AsyncJob:
    """A job needing I/O (e.g. downloading a bulk-import CSV), run with the worker's HTTP client."""

    func: Callable[[httpx.AsyncClient], Awaitable[None]]


_Job: TypeAlias = Callable[[], None] | CallbackDelivery | AsyncJob


def callback_url(base: str, params: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Append ``params`` to ``base``'s query; return the URL and every query pair (signed set)."""
    parts = urlsplit(base)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(existing + params, quote_via=quote)
    return urlunsplit(parts._replace(query=query)), existing + params


class CallbackQueue:
    """Due-time ordered jobs plus the worker that runs them (``run``)."""

    def __init__(
        self,
        config: SandboxConfig,
        clock: SandboxClock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._transport = transport
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._wakeup: anyio.Event | None = None
        self._idle_waiters: list[anyio.Event] = []
        self._in_flight = 0
        self.deliveries: list[CallbackDelivery] = []
        clock.on_change(self.notify)

    def clear(self) -> None:
        self._heap.clear()
        self.deliveries.clear()
        self.notify()

    def notify(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def schedule(self, due: float, job: _Job) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), job))
        self.notify()

    def emit(self, kind: str, account: Account, url: str, params: list[tuple[str, str]]) -> None:
        """Queue a signed delivery of an event to ``url`` (nothing happens without a URL)."""
        if not url:
            return
        now = self._clock.now()
        full_url, signed = callback_url(url, params)
        delivery = CallbackDelivery(
            id=next(self._ids),
            kind=kind,
            account_id=account.id,
            url=full_url,
            params=params,
            signature=callback_signature(signed, account.api_secret),
            created=now,
            next_attempt=now,
        )
        self.deliveries.append(delivery)
        self.schedule(now, delivery)

    def _pop_due(self, now: float) -> list[_Job]:
        due: list[_Job] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    async def settle(self) -> None:
        """Wait until every job due by now has run and no delivery is in flight.

        Needs :meth:`run` to be running in some task.
        """
        event = anyio.Event()
        self._idle_waiters.append(event)
        self.notify()
        await event.wait()

    async def run(self) -> None:
        """Run due jobs forever (cancel the surrounding task group to stop)."""
        timeout = httpx.Timeout(self._config.callback_timeout)
        async with (
            httpx.AsyncClient(transport=self._transport, timeout=timeout) as client,
            anyio.create_task_group() as tg,
        ):
            while True:
                self._wakeup = anyio.Event()
                jobs = self._pop_due(self._clock.now())
                for job in jobs:
                    if isinstance(job, CallbackDelivery):
                        self._in_flight += 1
                        tg.start_soon(self._attempt, client, job)
                    elif isinstance(job, AsyncJob):
                        self._in_flight += 1
                        tg.start_soon(self._run_async, client, job)
                    else:
                        job()
                if jobs:
                    continue
                if self._in_flight == 0:
                    waiters, self._idle_waiters = self._idle_waiters, []
                    for waiter in waiters:
                        waiter.set()
                next_due = self._heap[0][0] if self._heap else None
                if next_due is None or self._clock.is_virtual:
                    await self._wakeup.wait()
                else:
                    with anyio.move_on_after(max(0.0, next_due - self._clock.now())):
                        await self._wakeup.wait()

    async def _run_async(self, client: httpx.AsyncClient, job: AsyncJob) -> None:
        try:
            await job.func(client)
        finally:
            self._in_flight -= 1
            self.notify()

    async def _attempt(self, client: httpx.AsyncClient, delivery: CallbackDelivery) -> None:
        headers = {SIGNATURE_HEADER: delivery.signature, "user-agent": "smsapi-async-sandbox"}
        attempt: dict[str, Any] = {"at": datetime_text(self._clock.now())}
        try:
            response = await client.get(delivery.url, headers=headers)
            attempt["status_code"] = response.status_code
            ok = response.is_success
        except (httpx.HTTPError, OSError) as exc:
            attempt["error"] = type(exc).__name__
            ok = False
        finally:
            self._in_flight -= 1
        delivery.attempts.append(attempt)
        retries = self._config.callback_retry_delays
        if ok:
            delivery.status, delivery.next_attempt = "delivered", None
        elif len(delivery.attempts) <= len(retries):
            delay = retries[len(delivery.attempts) - 1] * self._config.callback_retry_scale
            delivery.status = "retrying"
            delivery.next_attempt = self._clock.now() + delay
            self.schedule(delivery.next_attempt, delivery)
        else:
            delivery.status, delivery.next_attempt = "failed", None
        self.notify()
