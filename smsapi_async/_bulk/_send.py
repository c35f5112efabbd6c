"""The bulk send itself: input read and checked, recipients coalesced into calls, the calls made
concurrently, results handed to the caller as they come (see the package's docstring)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterable, Callable, Container, Iterable, Mapping, Sized
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._exceptions import InvalidRequestError
from .._journal import FAILED, INTENT, SENT, UNKNOWN, Journal, JournalMismatchError, RunMark, SQLiteJournal
from .._lanes import Priority, lane_of
from .._numbers import NORMALISER, canonical_number
from .._sms_text import MAX_RECIPIENTS, check_parts
from .._validate import MAX_ID, optional_flag, seconds, whole_number
from ._batches import Batch, Bloom, Group
from ._calls import Calls, CountingLimiter
from ._input import (
    BulkInput,
    Reject,
    Template,
    as_given,
    item_digest,
    item_fields,
    make_template,
    numbers_of,
    read_items,
)
from ._reconcile import reconcile_unknown
from ._results import REJECTED, BulkProgress, BulkResult

if TYPE_CHECKING:
    from .._client import AsyncSmsClient

_MAX_CONCURRENCY: Final = 1000
"""Calls a bulk send may keep in flight at most (a task each)."""


class BulkSend:
    """A bulk send in progress: an async context manager yielding one :class:`BulkResult` per recipient.

    Made by :meth:`SmsResource.send_bulk <smsapi_async.resources.sms.SmsResource.send_bulk>`::

        async with client.sms.send_bulk(messages, journal="run.db") as results:
            async for result in results:
                ...

    Leaving the block early cancels the calls not made yet (a journal lets a later run resume).
    :meth:`wait` consumes every result and returns the final :class:`BulkProgress`.
    """

    def __init__(
        self,
        client: AsyncSmsClient,
        messages: Iterable[BulkInput] | AsyncIterable[BulkInput],
        *,
        journal: str | os.PathLike[str] | Journal | None = None,
        batch_size: int = MAX_RECIPIENTS,
        concurrency: int | None = None,
        max_pending: int = 10_000,
        max_parts: int | None = None,
        optouts: Container[str] | None = None,
        reconcile: bool = False,
        reconcile_delay: float = 10.0,
        reconcile_rounds: int = 3,
        ignore_unknown_keys: bool = False,
        allow_repeats: bool = False,
        total: int | None = None,
        on_progress: Callable[[BulkProgress], object] | None = None,
        progress_interval: float = 0.2,
        priority: Priority = "bulk",
    ) -> None:
        whole_number("batch_size", batch_size, 1, MAX_RECIPIENTS)
        lane_of(priority)  # checked
        if concurrency is not None:
            whole_number("concurrency", concurrency, 1, _MAX_CONCURRENCY)
        whole_number("max_pending", max_pending, batch_size, MAX_ID)
        if max_parts is not None:
            check_parts("", max_parts)
        seconds("reconcile_delay", reconcile_delay, allow_zero=True)
        whole_number("reconcile_rounds", reconcile_rounds, 0, 1000)
        seconds("progress_interval", progress_interval)
        optional_flag("reconcile", reconcile)
        optional_flag("ignore_unknown_keys", ignore_unknown_keys)
        optional_flag("allow_repeats", allow_repeats)
        if total is not None:
            whole_number("total", total, 0, MAX_ID)
        if on_progress is not None and not callable(on_progress):
            raise InvalidRequestError("on_progress must be callable")
        if optouts is not None and (isinstance(optouts, (str, bytes)) or not isinstance(optouts, Container)):
            got = type(optouts).__name__
            raise InvalidRequestError(f"optouts must be a collection of numbers, got {got}")
        if journal is not None and not isinstance(journal, (str, os.PathLike, Journal)):
            raise InvalidRequestError(f"journal must be a path or a Journal, got {type(journal).__name__}")
        if not isinstance(messages, (Iterable, AsyncIterable)) or isinstance(messages, (str, bytes, Mapping)):
            raise InvalidRequestError(
                "messages must be an iterable (or async iterable) of OutgoingMessage objects or mappings"
            )
        if total is None and isinstance(messages, Sized):
            total = len(messages)
        self._messages = messages
        self._journal_arg = journal
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._max_parts = max_parts
        self._optouts = optouts
        self._reconcile = reconcile
        self._reconcile_delay = float(reconcile_delay)
        self._reconcile_rounds = reconcile_rounds
        self._ignore_unknown = ignore_unknown_keys
        self._allow_repeats = bool(allow_repeats)
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        self._limiter = CountingLimiter(client.limiter)
        # its calls queue in the bulk lane, below everyone else's (with limiters that have lanes)
        self._client = client.with_options(priority=priority) if client._lanes_ok else client.with_options()
        self._client._limiter = self._limiter  # count 429s: the client pauses its limiter on each
        rate = getattr(client.limiter, "rate", None)
        if concurrency is None:
            # enough calls waiting that the limiter is never idle, even with 1-2 s answers
            concurrency = (
                8 if not isinstance(rate, (int, float)) else max(4, min(64, math.ceil(rate * 3) + 2))
            )
        self._concurrency = concurrency
        # calls that may wait for a grant at once: enough for the limiter's burst, and one more
        # being prepared while the current one waits (see Calls.work)
        burst = getattr(client.limiter, "burst", 1)
        self._ahead = min(concurrency, max(2, burst + 1 if isinstance(burst, int) else 2))
        self._counts = {SENT: 0, REJECTED: 0, FAILED: 0, UNKNOWN: 0}
        self._resumed = 0
        self._phase = "sending"
        self._total = total
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._pending = 0
        self._journal: Journal | None = None
        self._owned_journal: str | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._results_send: MemoryObjectSendStream[list[BulkResult]]
        self._results_receive: MemoryObjectReceiveStream[list[BulkResult]]
        self._ready: deque[BulkResult] = deque()
        self._hasher = hashlib.blake2b(digest_size=16)  # over the input items read so far
        self._consumed = 0
        # numbers accepted but not journaled yet (in a group, or queued for a call), per
        # de-duplication key, with the input index that brought each
        self._held: dict[str, dict[str, int]] = {}
        self._templates: dict[Any, Template] = {}
        self._bloom = Bloom()
        self._calls = Calls(
            self._client,
            bloom=self._bloom,
            held=self._held,
            dedup_key=self._dedup_key,
            mark=lambda: RunMark(self._consumed, self._hasher.hexdigest()),
            emit=self._emit_all,
            reconcile=reconcile,
        )
        self._error: BaseException | None = None
        self._finished = False

    # --- the async context manager and iterator -------------------------------------------

    async def __aenter__(self) -> BulkSend:
        self._journal = self._calls.journal = self._open_journal()
        self._results_send, self._results_receive = anyio.create_memory_object_stream[list[BulkResult]](4)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None
        if not self._finished:
            self._task_group.cancel_scope.cancel()
        try:
            # the block's own exception propagates as it is, not wrapped in an ExceptionGroup
            await self._task_group.__aexit__(None, None, None)
            return None
        finally:
            self._results_receive.close()
            self._close_journal()

    def __aiter__(self) -> BulkSend:
        return self

    async def __anext__(self) -> BulkResult:
        if self._task_group is None:
            raise RuntimeError("use `async with client.sms.send_bulk(...) as results:` before iterating")
        try:
            while not self._ready:
                self._ready.extend(await self._results_receive.receive())
            return self._ready.popleft()
        except anyio.EndOfStream:
            self._finished = True
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    async def wait(self) -> BulkProgress:
        """Consume every result; return the final counts (use the iterator to see each result)."""
        async for _ in self:
            pass
        return self.progress

    @property
    def progress(self) -> BulkProgress:
        """The counts so far."""
        now = time.monotonic()
        call_times = self._calls.times
        while call_times and call_times[0] < now - 5.0:
            call_times.popleft()
        window = min(5.0, now - self._started) or 1.0
        return BulkProgress(
            done=sum(self._counts.values()),
            total=self._total,
            sent=self._counts[SENT],
            rejected=self._counts[REJECTED],
            failed=self._counts[FAILED],
            unknown=self._counts[UNKNOWN],
            calls=self._calls.made,
            rate_limited=self._limiter.pauses,
            rate=len(call_times) / window,
            elapsed=now - self._started,
            resumed=self._resumed,
            phase=self._phase,
        )

    def _set_phase(self, phase: str) -> None:
        self._phase = phase
        if self._on_progress is not None:
            self._last_progress = time.monotonic()
            self._on_progress(self.progress)

    # --- the journal --------------------------------------------------------------------------

    def _open_journal(self) -> Journal:
        given = self._journal_arg
        if given is None:
            handle, path = tempfile.mkstemp(prefix="smsapi-bulk-", suffix=".db")
            os.close(handle)
            self._owned_journal = path
            return SQLiteJournal(path, durable=False, lock=False)  # a file no other run can know of
        if isinstance(given, (str, os.PathLike)):
            return SQLiteJournal(given)
        if isinstance(given, Journal):
            return given
        raise InvalidRequestError(f"journal must be a file path or a Journal, got {type(given).__name__}")

    def _close_journal(self) -> None:
        if self._journal is not None and not isinstance(self._journal_arg, Journal):
            self._journal.close()
        if self._owned_journal is not None:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._owned_journal + suffix)

    # --- the run --------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            async with self._results_send:
                await self._send_all()
        except Exception as exc:
            # a task group wraps errors in an ExceptionGroup: give the caller the error itself
            while isinstance(getattr(exc, "exceptions", None), tuple) and len(exc.exceptions) == 1:  # type: ignore[attr-defined]
                exc = exc.exceptions[0]  # type: ignore[attr-defined]
            self._error = exc

    async def _emit(self, result: BulkResult) -> None:
        await self._emit_all([result])

    async def _emit_all(self, results: list[BulkResult]) -> None:
        for result in results:
            self._counts[result.status] += 1
            self._resumed += result.resumed
        await self._results_send.send(results)
        if self._on_progress is not None:
            now = time.monotonic()
            if now - self._last_progress >= self._progress_interval:
                self._last_progress = now
                self._on_progress(self.progress)

    async def _send_all(self) -> None:
        journal = self._journal
        assert journal is not None
        dedup = "text" if self._allow_repeats else "number"
        fingerprint = json.dumps({"engine": 1, "normaliser": NORMALISER, "dedup": dedup})
        previous = journal.open(fingerprint)
        if previous is not None:
            for key, number in journal.journaled():
                self._bloom.add(key if self._allow_repeats else "", number)
        batches_send, batches_receive = anyio.create_memory_object_stream[Batch](1)
        ahead = anyio.Semaphore(self._ahead)
        async with anyio.create_task_group() as workers:
            for _ in range(self._concurrency):
                workers.start_soon(self._calls.work, batches_receive.clone(), ahead)
            batches_receive.close()
            async with batches_send:
                await self._produce(batches_send, previous)
        if self._reconcile:
            await reconcile_unknown(
                self._calls,
                delay=self._reconcile_delay,
                rounds=self._reconcile_rounds,
                concurrency=self._concurrency,
                ahead=self._ahead,
                phase=self._set_phase,
            )
        self._set_phase("done")

    async def _produce(self, out: MemoryObjectSendStream[Batch], previous: RunMark | None) -> None:
        journal = self._journal
        assert journal is not None
        hold_until = previous.consumed if previous else 0
        verified = hold_until == 0
        held: list[Batch] = []
        groups: dict[str, Group] = {}

        async def dispatch(group: Group) -> None:
            self._pending -= len(group.recipients)
            batch = Batch(group.template, group.recipients)
            if verified:
                await out.send(batch)
            else:
                held.append(batch)  # nothing goes out before the input is known to match the journal

        index = -1
        async for item in read_items(self._messages):
            index += 1
            try:
                fields = item_fields(item, self._ignore_unknown)
            except Reject as exc:
                given = as_given(item)
                self._hasher.update(item_digest({"unreadable": given}) + b"\n")
                self._consumed = index + 1
                await self._emit(BulkResult(index, given, REJECTED, reason=str(exc)))
                continue
            self._hasher.update(item_digest(fields) + b"\n")
            self._consumed = index + 1
            await self._accept(index, fields, groups, dispatch, index < hold_until)
            while self._pending > self._max_pending:
                oldest = next(iter(groups))
                await dispatch(groups.pop(oldest))
            if index + 1 == hold_until:
                self._verify(previous)
                verified = True
                for batch in held:
                    await out.send(batch)
                held.clear()
        if self._consumed < hold_until:
            raise JournalMismatchError(
                f"the input has {self._consumed} items but the journal was written for at least "
                f"{hold_until}: it belongs to another input; nothing was sent"
            )
        for group in list(groups.values()):
            await dispatch(group)
        for batch in held:
            await out.send(batch)

    def _dedup_key(self, template: Template) -> str:
        """What a recipient must not repeat: its number (default), or its number with this text
        and options (``allow_repeats``)."""
        return template.key if self._allow_repeats else ""

    @property
    def _duplicate(self) -> str:
        if self._allow_repeats:
            return "duplicate: same number, text and options"
        return "duplicate: this number already has a message in this run (allow_repeats=True to send it more)"

    def _template(self, fields: dict[str, Any]) -> Template:
        """The checked text and options of an item; cached, since bulk input repeats them."""
        try:
            cache_key = tuple(sorted((k, v) for k, v in fields.items() if k != "to"))
            hash(cache_key)
        except TypeError:
            return make_template(fields, self._max_parts)
        template = self._templates.get(cache_key)
        if template is None:
            if len(self._templates) >= 1024:
                self._templates.clear()
            template = self._templates[cache_key] = make_template(fields, self._max_parts)
        return template

    def _verify(self, previous: RunMark | None) -> None:
        if previous is not None and self._hasher.hexdigest() != previous.digest:
            raise JournalMismatchError(
                f"the first {previous.consumed} input items differ from those the journal was written "
                "for: it belongs to another input (or the input changed); nothing was sent"
            )

    async def _accept(
        self,
        index: int,
        fields: dict[str, Any],
        groups: dict[str, Group],
        dispatch: Callable[[Group], Any],
        journaled: bool,
    ) -> None:
        """Check one input item and queue its recipients (or report why not). ``journaled``: the
        item is within the part of the input an earlier run read, so the journal may know it."""
        journal = self._journal
        assert journal is not None
        raw_to = fields.get("to")
        try:
            numbers = numbers_of(raw_to)
        except Reject as exc:
            await self._emit(
                BulkResult(index, "" if raw_to is None else as_given(raw_to), REJECTED, reason=str(exc))
            )
            return
        try:
            template = self._template(fields)
        except (Reject, InvalidRequestError) as exc:
            for raw in numbers:
                await self._emit(BulkResult(index, raw, REJECTED, reason=str(exc)))
            return
        seen_here: set[str] = set()
        for raw in numbers:
            try:
                number = canonical_number(raw, template.countrycode)
            except InvalidRequestError as exc:
                await self._emit(BulkResult(index, raw, REJECTED, reason=str(exc)))
                continue
            if self._optouts is not None and number in self._optouts:
                await self._emit(BulkResult(index, raw, REJECTED, number, reason="opted out"))
                continue
            record = journal.lookup(index, number) if journaled and number not in seen_here else None
            if record is not None and not record.retry:
                seen_here.add(number)
                if record.state in (INTENT, UNKNOWN):
                    if not self._reconcile:  # else reconciliation reports it, exactly once
                        await self._emit(
                            BulkResult(index, raw, UNKNOWN, number, reason=record.reason, resumed=True)
                        )
                    continue
                await self._emit(
                    BulkResult(
                        index, raw, record.state, number, record.message_id, record.reason, resumed=True
                    )
                )
                continue
            key = self._dedup_key(template)
            held = self._held.setdefault(key, {})
            first = index if number in seen_here else held.get(number)
            if first is None and record is None and (key, number) in self._bloom:
                first = journal.seen(template.key if self._allow_repeats else None, number)
            if first is not None:
                await self._emit(
                    BulkResult(index, raw, REJECTED, number, reason=self._duplicate, duplicate_of=first)
                )
                continue
            seen_here.add(number)
            held[number] = index
            group = groups.get(template.key)
            if group is None:
                group = groups[template.key] = Group(template)
            group.recipients.append((index, raw, number))
            self._pending += 1
            if len(group.recipients) >= self._batch_size:
                await dispatch(groups.pop(template.key))
