"""Callbacks the sandbox makes: a time-ordered queue of jobs and the worker coroutine that runs them.

Jobs are data, so the queue can be saved and restored (``--db``): a recipient's receipt falling due
(:class:`DlrDue`), an HTTP delivery (:class:`CallbackDelivery`), or a bulk import to fetch
(:class:`BulkImportJob`). A delivery is a signed GET of the callback URL with the event's fields
appended to its query string; a non-2xx answer (redirects are not followed) or a network error is
retried after the documented 1 min, 5 min, 1 h and 24 h, each multiplied by ``callback_retry_scale``.

The worker never dies of a job: a URL that cannot be used is one failed attempt (no retry: it will not
become usable), anything a job raises is logged and recorded, and every other job keeps running; a
failed save (``--db``) is retried with backoff while deliveries go on.

Receivers are kept apart: at most ``PER_DESTINATION`` deliveries are in flight to one destination
(scheme, host and port), each bounded by ``callback_timeout``, so a receiver that hangs costs only
its own deliveries (behind 200 hanging callbacks, a healthy receiver's receipt used to wait 30 s for
one of 32 shared slots).

Deliveries and imports never reach a link-local address, and never a sandbox's API (``_egress.py``):
such an attempt fails at once, is not retried, and says why in the callbacks view.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import anyio
import attrs
import httpx

from .._signature import SIGNATURE_HEADER, callback_signature, php_query_pairs
from ._clock import SandboxClock
from ._config import SandboxConfig
from ._egress import LOOP_HEADER, REFUSED_HEADER, RefusedDestination, guarded_transport
from ._state import Account, Changes, datetime_text

__all__ = [
    "BulkImportJob",
    "CallbackDelivery",
    "CallbackQueue",
    "DlrDue",
    "Job",
    "UnusableUrl",
    "check_callback_url",
]

logger = logging.getLogger("smsapi_async.sandbox")

PER_DESTINATION = 4
"""Deliveries in flight at once to one destination (scheme, host and port)."""
DELIVERY_LOG_SIZE = 1000
"""How many deliveries ``deliveries`` (``/_sandbox/callbacks``, and the ``--db`` file) keeps, newest
last; older ones are dropped, though one still waiting for a retry keeps being retried."""
MAX_URL_LENGTH = 2048
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#]*@")


class UnusableUrl(ValueError):
    """A callback URL that no HTTP request can be made to."""


def check_callback_url(url: str) -> str:
    """``url`` stripped, if an HTTP(S) request can be made to it; else :class:`UnusableUrl`."""
    value = url.strip()
    if len(value) > MAX_URL_LENGTH:
        raise UnusableUrl(f"longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise UnusableUrl("contains spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port out of 0..65535
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnusableUrl(str(exc) or "malformed") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnusableUrl("not an http(s) URL")
    if not parts.hostname:
        raise UnusableUrl("no host")
    if port == 0:
        raise UnusableUrl("port 0")
    return value


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

    @property
    def shown_url(self) -> str:
        """:attr:`url` with any password in it masked (for the log and the callbacks view)."""
        return _PASSWORD.sub(r"\1:***@", self.url)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "account_id": self.account_id,
            "url": self.shown_url,
            "params": dict(self.params),
            "signature": self.signature,
            "created": datetime_text(self.created),
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt": datetime_text(self.next_attempt),
        }


@attrs.define
class DlrDue:
    """The receipt of ``message_id``'s recipient number ``index`` (0-based) falls due."""

    message_id: int
    index: int


@attrs.define
class BulkImportJob:
    """Fetch ``file_url`` and import it into list ``list_id`` of account ``account_id``."""

    account_id: int
    list_id: int
    file_url: str


Job: TypeAlias = DlrDue | CallbackDelivery | BulkImportJob
RunJob: TypeAlias = Callable[[Job], None]
RunImport: TypeAlias = Callable[[BulkImportJob, httpx.AsyncClient], Awaitable[None]]


def callback_url(base: str, params: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Append ``params`` to ``base``'s query as given (the user's own part is not re-encoded); return
    the URL and every query pair as the receiver decodes them (the signed set)."""
    parts = urlsplit(base)
    added = urlencode(params, quote_via=quote)
    query = f"{parts.query}&{added}" if parts.query else added
    existing = php_query_pairs(parts.query)
    return urlunsplit(parts._replace(query=query)), existing + params


SAVE_RETRY_FIRST = 0.5
SAVE_RETRY_CAP = 30.0
"""Seconds before the worker saves again after a failed save, doubling up to the cap."""


class _Destinations:
    """One capacity limiter per destination, made when first needed and forgotten when idle."""

    def __init__(self) -> None:
        self._limiters: dict[tuple[str, str, int | None], anyio.CapacityLimiter] = {}

    @staticmethod
    def _key(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        return parts.scheme.lower(), (parts.hostname or "").lower(), port

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        key = self._key(url)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = anyio.CapacityLimiter(PER_DESTINATION)
        try:
            async with limiter:
                yield
        finally:
            stats = limiter.statistics()
            if not stats.borrowed_tokens and not stats.tasks_waiting and self._limiters.get(key) is limiter:
                del self._limiters[key]


class CallbackQueue:
    """Due-time ordered jobs plus the worker that runs them (``run``).

    ``run_job`` carries out a :class:`DlrDue`; ``run_import`` a :class:`BulkImportJob` (with the
    worker's HTTP client). Deliveries are carried out here.
    """

    def __init__(
        self,
        config: SandboxConfig,
        clock: SandboxClock,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        run_job: RunJob,
        run_import: RunImport,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._transport = transport
        self._run_job = run_job
        self._run_import = run_import
        self._on_change = on_change
        self._heap: list[tuple[float, int, Job]] = []
        # deliveries and imports taken off the queue but not finished, by sequence number: their job
        # records stay in the --db file until they finish, so a process killed mid-attempt makes it
        # again after the restart (a receiver may get a callback twice, never zero times); a worker
        # started again after being cancelled takes them back first
        self._in_flight_jobs: dict[int, tuple[float, int, Job]] = {}
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._wakeup: anyio.Event | None = None
        self._idle_waiters: list[anyio.Event] = []
        self._in_flight = 0
        self._save_failures = 0  # failed saves in a row (disk full...): retried with backoff
        self._retry_save_at: float | None = None  # monotonic seconds
        self.deliveries: deque[CallbackDelivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        # queued jobs (``("job", seq)``) and logged deliveries (``("delivery", id)``) changed since
        # the last save (``--db``)
        self.changes = Changes(everything=True)
        clock.on_change(self.notify)

    def clear(self) -> None:
        self._heap.clear()
        self._in_flight_jobs.clear()
        self.deliveries.clear()
        self.changes.everything = True
        self.notify()

    def queued(self) -> list[tuple[float, Job]]:
        """Every queued job with its due time (what ``--db`` saves)."""
        return [(due, job) for due, _, job in self.entries()]

    def entries(self) -> list[tuple[float, int, Job]]:
        """Every queued job as ``(due, sequence number, job)``, in the order they will run, and the
        deliveries being attempted (what ``--db`` saves)."""
        return sorted([*self._heap, *self._in_flight_jobs.values()], key=lambda e: (e[0], e[1]))

    def restore(
        self,
        queue: list[tuple[float, Job]],
        deliveries: list[CallbackDelivery],
        sequence: list[int] | None = None,
    ) -> None:
        """Take back what :meth:`queued` and :attr:`deliveries` held before a restart (with the
        jobs' saved sequence numbers, ``sequence``, when there are)."""
        keys = sequence if sequence is not None else list(range(len(queue)))
        self._heap = [(due, seq, job) for (due, job), seq in zip(queue, keys, strict=True)]
        heapq.heapify(self._heap)
        self._seq = itertools.count(max(keys, default=-1) + 1)
        self.changes = Changes(everything=sequence is None)
        self.deliveries = deque(deliveries, maxlen=DELIVERY_LOG_SIZE)
        queued_ids = (job.id for _, job in queue if isinstance(job, CallbackDelivery))
        self._ids = itertools.count(
            max(itertools.chain((d.id for d in deliveries), queued_ids), default=0) + 1
        )
        self.notify()

    def drop_unsaved(self) -> None:
        """Forget the jobs and deliveries queued since the last save (their call was undone)."""
        changes = self.changes.take()
        jobs = {
            int(key) for (kind, key), value in changes.rows.items() if kind == "job" and value is not None
        }
        logged = {
            int(key)
            for (kind, key), value in changes.rows.items()
            if kind == "delivery" and value is not None
        }
        self._heap = [entry for entry in self._heap if entry[1] not in jobs]
        heapq.heapify(self._heap)
        self.deliveries = deque((d for d in self.deliveries if d.id not in logged), maxlen=DELIVERY_LOG_SIZE)
        self.changes.everything = changes.everything

    def pending(self) -> int:
        """How many jobs are queued (due or not)."""
        return len(self._heap)

    def notify(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def schedule(self, due: float, job: Job) -> None:
        seq = next(self._seq)
        heapq.heappush(self._heap, (due, seq, job))
        self.changes.put("job", seq, (due, job))
        self.notify()

    def emit(self, kind: str, account: Account, url: str, params: list[tuple[str, str]]) -> None:
        """Queue a signed delivery of an event to ``url`` (nothing happens without a URL).

        A URL no request can be made to is recorded as a delivery that failed at its first attempt."""
        if not url:
            return
        now = self._clock.now()
        try:
            full_url, signed = callback_url(check_callback_url(url), params)
            problem = None
        except ValueError as exc:
            full_url, signed, problem = url, params, f"unusable callback URL: {exc}"
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
        if len(self.deliveries) == self.deliveries.maxlen:  # the oldest drops out of the log
            self.changes.drop("delivery", self.deliveries[0].id)
        self.deliveries.append(delivery)
        self.changes.put("delivery", delivery.id, delivery)
        if problem is None:
            self.schedule(now, delivery)
        else:
            self._record(delivery, {"at": datetime_text(now), "error": problem}, ok=False, final=True)

    def _pop_due(self, now: float) -> list[tuple[int, Job]]:
        due: list[tuple[int, Job]] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            _, seq, job = entry
            if not isinstance(job, DlrDue):  # its record goes when it finishes
                self._in_flight_jobs[seq] = entry
            else:
                self.changes.drop("job", seq)
            due.append((seq, job))
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
        destinations = _Destinations()
        for entry in self._in_flight_jobs.values():  # cut short when a worker was cancelled
            heapq.heappush(self._heap, entry)
        self._in_flight_jobs.clear()
        transport = self._transport or guarded_transport(allow_link_local=self._config.allow_link_local)
        async with (
            httpx.AsyncClient(
                transport=transport, timeout=timeout, trust_env=False, headers={LOOP_HEADER: "1"}
            ) as client,
            anyio.create_task_group() as tg,
        ):
            while True:
                self._wakeup = anyio.Event()
                jobs = self._pop_due(self._clock.now())
                for seq, job in jobs:
                    if isinstance(job, CallbackDelivery):
                        self._in_flight += 1
                        tg.start_soon(self._attempt, client, destinations, job, seq)
                    elif isinstance(job, BulkImportJob):
                        self._in_flight += 1
                        tg.start_soon(self._import, client, job, seq)
                    else:
                        self._run_sync(job)
                if jobs:
                    self._save()
                    continue
                if self._retry_save_at is not None and time.monotonic() >= self._retry_save_at:
                    self._save()
                if self._in_flight == 0:
                    waiters, self._idle_waiters = self._idle_waiters, []
                    for waiter in waiters:
                        waiter.set()
                next_due = self._heap[0][0] if self._heap else None
                waits = [] if next_due is None or self._clock.is_virtual else [next_due - self._clock.now()]
                if self._retry_save_at is not None:
                    waits.append(self._retry_save_at - time.monotonic())
                if not waits:
                    await self._wakeup.wait()
                else:
                    with anyio.move_on_after(max(0.0, min(waits))):
                        await self._wakeup.wait()

    def _save(self) -> None:
        """Save what the worker changed; a failed save (disk full...) is logged and tried again
        with backoff while deliveries go on: the worker never dies of it."""
        try:
            self._on_change()
        except Exception as exc:
            self._save_failures += 1
            delay = min(SAVE_RETRY_CAP, SAVE_RETRY_FIRST * 2 ** (self._save_failures - 1))
            self._retry_save_at = time.monotonic() + delay
            logger.warning(
                "sandbox: saving the state failed (%s); deliveries go on, saving again in %.1f s", exc, delay
            )
        else:
            if self._save_failures:
                logger.warning(
                    "sandbox: the state is saved again after %d failed save(s)", self._save_failures
                )
            self._save_failures = 0
            self._retry_save_at = None

    def _run_sync(self, job: Job) -> None:
        try:
            self._run_job(job)
        except Exception:
            logger.exception("sandbox job %r failed; the worker goes on", job)

    async def _import(self, client: httpx.AsyncClient, job: BulkImportJob, seq: int) -> None:
        try:
            try:
                await self._run_import(job, client)
            except Exception:
                logger.exception("sandbox bulk import %r failed; the worker goes on", job)
            self._finished(seq)  # not when cancelled: then it runs again
        finally:
            self._in_flight -= 1
            self._save()  # the imported contacts and the import's progress are kept
            self.notify()

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        destinations: _Destinations,
        delivery: CallbackDelivery,
        seq: int,
    ) -> None:
        headers = {SIGNATURE_HEADER: delivery.signature, "user-agent": "smsapi-async-sandbox"}
        attempt: dict[str, Any] = {"at": datetime_text(self._clock.now())}
        ok = final = False
        try:
            async with destinations.slot(delivery.url):
                request = client.build_request("GET", check_callback_url(delivery.url), headers=headers)
                response = await client.send(request)
            attempt["status_code"] = response.status_code
            ok = response.is_success
            if REFUSED_HEADER in response.headers:
                attempt["error"] = "callback loop"
                attempt["detail"] = (
                    "refused: the URL is a sandbox's own API, which does not act on the sandbox's "
                    "callbacks (each message's callback would make more messages)"
                )
                final = True
        except (UnusableUrl, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            attempt["error"] = f"unusable callback URL: {exc}"
            final = True
        except httpx.ConnectError as exc:
            attempt["error"] = type(exc).__name__
            attempt["detail"] = str(exc)[:300]
            if isinstance(exc.__cause__, RefusedDestination):
                attempt["error"] = "refused destination"
                final = True
        except Exception as exc:  # network errors, timeouts, and whatever a transport raises
            attempt["error"] = type(exc).__name__
            attempt["detail"] = str(exc)[:300]
        finally:
            self._in_flight -= 1
        self._record(delivery, attempt, ok=ok, final=final, seq=seq)

    def _finished(self, seq: int) -> None:
        self._in_flight_jobs.pop(seq, None)
        self.changes.drop("job", seq)

    def _record(
        self,
        delivery: CallbackDelivery,
        attempt: dict[str, Any],
        *,
        ok: bool,
        final: bool,
        seq: int | None = None,
    ) -> None:
        if seq is not None:  # the attempt of a queued delivery: its job is done
            self._finished(seq)
        delivery.attempts.append(attempt)
        self.changes.put("delivery", delivery.id, delivery)  # written only while it is in the log
        retries = self._config.callback_retry_delays
        if ok:
            delivery.status, delivery.next_attempt = "delivered", None
        elif not final and len(delivery.attempts) <= len(retries):
            delay = retries[len(delivery.attempts) - 1] * self._config.callback_retry_scale
            delivery.status = "retrying"
            delivery.next_attempt = self._clock.now() + delay
            self.schedule(delivery.next_attempt, delivery)
        else:
            delivery.status, delivery.next_attempt = "failed", None
        self._save()
        if not ok:
            logger.warning(
                "sandbox %s callback %d to %.200s: attempt %d failed (%s); %s",
                delivery.kind,
                delivery.id,
                delivery.shown_url,
                len(delivery.attempts),
                attempt.get("detail") or attempt.get("error") or f"HTTP {attempt.get('status_code')}",
                "retrying" if delivery.status == "retrying" else "giving up",
            )
        self.notify()
