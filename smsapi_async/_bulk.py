"""The engine behind ``client.sms.send_bulk``: fewest calls, a busy limiter, nothing lost or sent twice.

How it works, input to result:

1. Each input item (an :class:`OutgoingMessage` or a mapping with ``send``'s keys) is checked as
   ``send`` would check it; a bad item, number or duplicate becomes a ``rejected`` result at once.
2. Recipients of items with the same text and options are coalesced into one ``send-sms`` call of up
   to ``batch_size`` (at most 500) numbers. At most ``max_pending`` recipients wait in memory for
   their call; beyond that the oldest group goes out early, so memory stays bounded whatever the
   input size. De-duplication and the journal live in SQLite on disk, not in memory.
3. ``concurrency`` workers make the calls, so while calls are queued the limiter always has one
   waiting for it. Before each call its intent is written to the journal, its outcome after.
4. A call that timed out or met a 5xx is ``unknown``: never resent blindly. With ``reconcile=True``
   the account's sent messages are searched for each of its recipients; a call is resent only when
   none of its recipients shows it, i.e. it provably did not go out.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Container, Iterable, Mapping, Sequence, Sized
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar, Union

import anyio
import anyio.abc
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._convert import _length_only, to_bool
from ._exceptions import (
    InvalidRequestError,
    OutcomeUnknownError,
    ResponseParseError,
    SmsApiError,
)
from ._journal import (
    FAILED,
    INTENT,
    SENT,
    UNKNOWN,
    BatchRecord,
    Journal,
    JournalError,
    JournalMismatchError,
    RunMark,
    SQLiteJournal,
)
from ._numbers import NORMALISER, canonical_number
from ._pagination import MAX_PAGE_SIZE
from ._sms_text import (
    MAX_RECIPIENTS,
    MAX_VALIDITY,
    check_email,
    check_message,
    check_parts,
    check_sender,
    check_url,
)
from ._validate import MAX_ID, aware_datetime, optional_flag, seconds, shown, whole_number
from .models.reports import UserSentMessage

if TYPE_CHECKING:
    from ._client import AsyncSmsClient

__all__ = [
    "FAILED",
    "REJECTED",
    "SENT",
    "UNKNOWN",
    "BulkProgress",
    "BulkResult",
    "BulkSend",
    "OutgoingMessage",
]

REJECTED: Final = "rejected"
T = TypeVar("T")
_GAVE_UP = "not sent: its call had an unknown outcome, and again after {} resends (reconciled)"

_OPTIONS: Final = (
    "from_",
    "countrycode",
    "send_at",
    "validity",
    "replies_to_email",
    "tracked_link_url",
    "dlr_callback",
    "reply_callback",
    "link_hits_callback",
    "from_shared",
)
_KEYS: Final = frozenset(("message", "to", *_OPTIONS))
_PLACEHOLDER_FREE = {"[tracked-link]", "[unsub-reply-link]", "[mobile]"}


_MAX_DIGITS: Final = 18
"""Numeric text longer than this is no number the API takes (and slow to convert)."""

_MAX_CONCURRENCY: Final = 1000
"""Calls a bulk send may keep in flight at most (a task each)."""


_LISTED_IN_FAILS: Final = "refused by the API (listed in fails)"
_SKIPPED: Final = "skipped by the API (not among the message's recipients)"


@attrs.frozen(slots=True, kw_only=True)
class OutgoingMessage:
    """One message of a bulk send: ``send``'s arguments, for one or several recipients.

    ``to`` is one number, several comma-separated in a string, or a sequence of numbers. A plain
    mapping with the same keys (``{"message": ..., "to": ..., "from_": ...}``; ``"from"`` works too)
    is accepted wherever an ``OutgoingMessage`` is.
    """

    message: str = attrs.field(repr=_length_only)
    to: str | Sequence[str]
    from_: str | None = None
    countrycode: str | None = None
    send_at: datetime | None = None
    validity: int | None = None
    replies_to_email: str | None = None
    tracked_link_url: str | None = None
    dlr_callback: str | None = None
    reply_callback: str | None = None
    link_hits_callback: str | None = None
    from_shared: bool | None = None


BulkInput: TypeAlias = Union[OutgoingMessage, Mapping[str, Any]]  # noqa: UP007 (a runtime alias on 3.10)


@attrs.frozen(slots=True)
class BulkResult:
    """The final state of one recipient of a bulk send (exactly one per recipient).

    Attributes:
        index: position of the input item (0-based).
        to: the number as given.
        status: ``"sent"`` (accepted by the API; ``message_id`` set), ``"rejected"`` (refused
            before any call: ``reason`` says why), ``"failed"`` (the API refused it or the call
            failed without sending: ``error``), or ``"unknown"`` (the call timed out or met a
            server error and may or may not have gone out; it was not resent).
        number: the number in international format, when it is one.
        message_id: the id of the message it went out in (``sent`` only).
        reason: why it was rejected, failed or is unknown.
        error: the exception behind a ``failed`` or ``unknown`` result of this run.
        resumed: the outcome comes from the journal of an earlier run (nothing was sent now).
    """

    index: int
    to: str
    status: str
    number: str | None = None
    message_id: int | None = None
    reason: str = ""
    error: SmsApiError | None = attrs.field(default=None, eq=False, repr=False)
    resumed: bool = False


@attrs.frozen(slots=True)
class BulkProgress:
    """Where a bulk send stands, as given to ``on_progress``.

    Attributes:
        done: recipients in a final state.
        total: recipients expected (``total=`` or ``len(messages)``), ``None`` when unknown.
        sent, rejected, failed, unknown: ``done`` by state.
        calls: ``send-sms`` calls made (plus reconciliation look-ups).
        rate_limited: answers HTTP 429 / ``OVER_LIMIT`` met (each was retried by the client).
        rate: calls per second over the last few seconds.
        elapsed: seconds since the start.
    """

    done: int
    total: int | None
    sent: int
    rejected: int
    failed: int
    unknown: int
    calls: int
    rate_limited: int
    rate: float
    elapsed: float


@attrs.frozen(slots=True)
class _Template:
    """Validated text and options of one input item; ``key`` names its coalescing group."""

    key: str
    options: str  # JSON, for the journal and for a resend after reconciliation
    kwargs: dict[str, Any] = attrs.field(eq=False)
    countrycode: str | None


@attrs.define(slots=True)
class _Batch:
    template: _Template
    recipients: list[tuple[int, str, str]]  # (input index, number as given, canonical number)


class _Reject(Exception):
    pass


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fields(item: object, ignore_unknown_keys: bool) -> dict[str, Any]:
    if isinstance(item, OutgoingMessage):
        item = {name: getattr(item, name) for name in ("message", "to", *_OPTIONS)}
    if not isinstance(item, Mapping):
        raise _Reject(f"expected an OutgoingMessage or a mapping, got {type(item).__name__}")
    fields = {("from_" if key == "from" else key): value for key, value in item.items()}
    unknown = [key for key in fields if key not in _KEYS]
    if unknown and not ignore_unknown_keys:
        raise _Reject(f"unknown key(s) {', '.join(map(repr, sorted(map(str, unknown))))}")
    # blank cells of a CSV row mean "not given"
    return {key: value for key, value in fields.items() if key in _KEYS and not _blank(value)}


def _option_value(name: str, value: Any) -> Any:
    """An option as ``send`` takes it; CSV-style text is accepted for numbers, flags and dates."""
    if name == "validity":
        if isinstance(value, str) and value.strip().isdigit() and len(value) <= _MAX_DIGITS:
            value = int(value)
        return whole_number("validity (minutes)", value, 0, MAX_VALIDITY)
    if name == "from_shared":
        try:
            return to_bool(value)
        except ValueError:
            raise InvalidRequestError(
                f"from_shared must be true or false, got {shown(name, value)}"
            ) from None
    if name == "send_at":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidRequestError(
                    f"send_at must be an ISO 8601 date and time, got {shown(name, value)}"
                ) from None
        return aware_datetime("send_at", value, not_past=True)
    if name == "from_":
        return check_sender(value)
    if name == "replies_to_email":
        return check_email(name, value)
    if name.endswith(("_url", "_callback")):
        return check_url(name, value)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be text, got {shown(name, value)}")
    return value


def _numbers_of(to: object) -> list[str]:
    numbers: list[object] = []
    if isinstance(to, str):
        numbers = list(to.split(","))
    elif isinstance(to, Iterable):
        numbers = list(to)
    if numbers and all(isinstance(n, str) for n in numbers):
        found = [n for n in numbers if isinstance(n, str) and n.strip()]
        if found:
            return found
    if to is None or (isinstance(to, str) and not to.strip()):
        raise _Reject("no recipient (to)")
    raise _Reject(
        f"to must be a phone number, comma-separated numbers or a list of them, got {shown('to', to)}"
    )


def _digest(fields: Mapping[str, Any]) -> bytes:
    """A stable rendering of an input item, for the journal's digest of the input."""
    items = sorted(fields.items(), key=lambda kv: str(kv[0]))
    try:
        text = repr(items)
    except ValueError:  # an int too long for repr() (over 4300 digits): the item is refused anyway
        text = repr([(key, _renderable(value)) for key, value in items])
    return text.encode("utf-8", "backslashreplace")


def _as_given(value: object) -> str:
    """A rejected input as a result shows it: text (cut at 40 characters) and plain ints as they
    are, anything else by type (a huge int has no ``str()``; an object's may hold message text)."""
    if isinstance(value, str):
        return value[:40]
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 128:
        return str(value)
    return type(value).__name__


def _renderable(value: Any) -> Any:
    try:
        repr(value)
    except ValueError:
        return f"<int of {value.bit_length()} bits>" if isinstance(value, int) else type(value).__name__
    return value


def _template(fields: dict[str, Any], max_parts: int | None) -> _Template:
    message = fields.get("message")
    if message is None:
        raise _Reject("no message text")
    kwargs: dict[str, Any] = {"message": check_parts(check_message(message), max_parts)}
    for name in _OPTIONS:
        if name in fields:
            kwargs[name] = _option_value(name, fields[name])
    options = json.dumps(
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in kwargs.items()},
        sort_keys=True,
        ensure_ascii=False,
    )
    key = hashlib.blake2b(options.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return _Template(key, options, kwargs, kwargs.get("countrycode"))


def _template_from_json(options: str) -> _Template:
    kwargs = json.loads(options)
    if "send_at" in kwargs:
        kwargs["send_at"] = datetime.fromisoformat(kwargs["send_at"])
    key = hashlib.blake2b(options.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return _Template(key, options, kwargs, kwargs.get("countrycode"))


def _text_pattern(template: str) -> Any:
    """A regex for the text the API shows for ``template`` (its placeholders expanded to anything)."""
    parts = re.split(r"(\[[A-Za-z][A-Za-z0-9_\- ]{0,63}\])", template)
    pattern = "".join(".*?" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    return re.compile(pattern + r"\Z", re.DOTALL)


class _CountingLimiter:
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


async def _items(messages: Iterable[Any] | AsyncIterable[Any]) -> Any:
    if isinstance(messages, AsyncIterable):
        async for item in messages:
            yield item
        return
    for count, item in enumerate(messages):
        if count % 16 == 0:  # keep the event loop responsive: the limiter's timers fire on time
            await anyio.lowlevel.checkpoint()
        yield item


class _Bloom:
    """Which (text and options, number) pairs may have been journaled: "no" is certain, so the
    journal is asked only on a "maybe". 16 Mbit (2 MB) with 3 probes: under 2 % false "maybe" for a
    million recipients; more recipients only means asking the journal more often."""

    BITS: Final = 1 << 24

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _probes(self, key: str, number: str) -> tuple[int, int, int]:
        h = int.from_bytes(hashlib.blake2b(f"{key}:{number}".encode(), digest_size=12).digest(), "little")
        mask = self.BITS - 1
        return h & mask, (h >> 32) & mask, (h >> 64) & mask

    def add(self, key: str, number: str) -> None:
        for bit in self._probes(key, number):
            self._bits[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return all(self._bits[bit >> 3] & (1 << (bit & 7)) for bit in self._probes(*pair))


@attrs.define(slots=True)
class _Group:
    template: _Template
    recipients: list[tuple[int, str, str]] = attrs.Factory(list)
    numbers: set[str] = attrs.Factory(set)


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
        total: int | None = None,
        on_progress: Callable[[BulkProgress], object] | None = None,
        progress_interval: float = 0.2,
    ) -> None:
        whole_number("batch_size", batch_size, 1, MAX_RECIPIENTS)
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
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        self._limiter = _CountingLimiter(client.limiter)
        self._client = client.with_options()
        self._client._limiter = self._limiter  # count 429s: the client pauses its limiter on each
        rate = getattr(client.limiter, "rate", None)
        if concurrency is None:
            # enough calls waiting that the limiter is never idle, even with 1-2 s answers
            concurrency = (
                8 if not isinstance(rate, (int, float)) else max(4, min(64, math.ceil(rate * 3) + 2))
            )
        self._concurrency = concurrency
        self._counts = {SENT: 0, REJECTED: 0, FAILED: 0, UNKNOWN: 0}
        self._total = total
        self._calls = 0
        self._call_times: deque[float] = deque(maxlen=256)
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
        self._queued: dict[str, set[str]] = {}  # numbers of calls queued but not journaled yet
        self._templates: dict[Any, _Template] = {}
        self._bloom = _Bloom()
        self._error: BaseException | None = None
        self._finished = False

    # --- the async context manager and iterator -------------------------------------------

    async def __aenter__(self) -> BulkSend:
        self._journal = self._open_journal()
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
        while self._call_times and self._call_times[0] < now - 5.0:
            self._call_times.popleft()
        window = min(5.0, now - self._started) or 1.0
        return BulkProgress(
            done=sum(self._counts.values()),
            total=self._total,
            sent=self._counts[SENT],
            rejected=self._counts[REJECTED],
            failed=self._counts[FAILED],
            unknown=self._counts[UNKNOWN],
            calls=self._calls,
            rate_limited=self._limiter.pauses,
            rate=len(self._call_times) / window,
            elapsed=now - self._started,
        )

    # --- the journal --------------------------------------------------------------------------

    def _open_journal(self) -> Journal:
        given = self._journal_arg
        if given is None:
            handle, path = tempfile.mkstemp(prefix="smsapi-bulk-", suffix=".db")
            os.close(handle)
            self._owned_journal = path
            return SQLiteJournal(path, durable=False)
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
        await self._results_send.send(results)
        if self._on_progress is not None:
            now = time.monotonic()
            if now - self._last_progress >= self._progress_interval:
                self._last_progress = now
                self._on_progress(self.progress)

    async def _send_all(self) -> None:
        journal = self._journal
        assert journal is not None
        fingerprint = json.dumps({"engine": 1, "normaliser": NORMALISER})
        previous = journal.open(fingerprint)
        if previous is not None:
            for key, number in journal.journaled():
                self._bloom.add(key, number)
        batches_send, batches_receive = anyio.create_memory_object_stream[_Batch](self._concurrency)
        async with anyio.create_task_group() as workers:
            for _ in range(self._concurrency):
                workers.start_soon(self._worker, batches_receive.clone())
            batches_receive.close()
            async with batches_send:
                await self._produce(batches_send, previous)
        if self._reconcile:
            await self._reconcile_unknown()
        if self._on_progress is not None:
            self._on_progress(self.progress)

    async def _produce(self, out: MemoryObjectSendStream[_Batch], previous: RunMark | None) -> None:
        journal = self._journal
        assert journal is not None
        hold_until = previous.consumed if previous else 0
        verified = hold_until == 0
        held: list[_Batch] = []
        groups: dict[str, _Group] = {}

        async def dispatch(group: _Group) -> None:
            self._pending -= len(group.recipients)
            self._queued.setdefault(group.template.key, set()).update(group.numbers)
            batch = _Batch(group.template, group.recipients)
            if verified:
                await out.send(batch)
            else:
                held.append(batch)  # nothing goes out before the input is known to match the journal

        index = -1
        async for item in _items(self._messages):
            index += 1
            try:
                fields = _fields(item, self._ignore_unknown)
            except _Reject as exc:
                given = _as_given(item)
                self._hasher.update(_digest({"unreadable": given}) + b"\n")
                self._consumed = index + 1
                await self._emit(BulkResult(index, given, REJECTED, reason=str(exc)))
                continue
            self._hasher.update(_digest(fields) + b"\n")
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

    def _template(self, fields: dict[str, Any]) -> _Template:
        """The checked text and options of an item; cached, since bulk input repeats them."""
        try:
            cache_key = tuple(sorted((k, v) for k, v in fields.items() if k != "to"))
            hash(cache_key)
        except TypeError:
            return _template(fields, self._max_parts)
        template = self._templates.get(cache_key)
        if template is None:
            if len(self._templates) >= 1024:
                self._templates.clear()
            template = self._templates[cache_key] = _template(fields, self._max_parts)
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
        groups: dict[str, _Group],
        dispatch: Callable[[_Group], Any],
        journaled: bool,
    ) -> None:
        """Check one input item and queue its recipients (or report why not). ``journaled``: the
        item is within the part of the input an earlier run read, so the journal may know it."""
        journal = self._journal
        assert journal is not None
        raw_to = fields.get("to")
        try:
            numbers = _numbers_of(raw_to)
        except _Reject as exc:
            await self._emit(
                BulkResult(index, "" if raw_to is None else _as_given(raw_to), REJECTED, reason=str(exc))
            )
            return
        try:
            template = self._template(fields)
        except (_Reject, InvalidRequestError) as exc:
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
            group = groups.get(template.key)
            duplicate = (
                number in seen_here
                or (group is not None and number in group.numbers)
                or number in self._queued.get(template.key, ())
            )
            if not duplicate and record is None and (template.key, number) in self._bloom:
                duplicate = journal.seen(template.key, number)
            if duplicate:
                await self._emit(
                    BulkResult(
                        index, raw, REJECTED, number, reason="duplicate: same number, text and options"
                    )
                )
                continue
            seen_here.add(number)
            if group is None:
                group = groups[template.key] = _Group(template)
            group.recipients.append((index, raw, number))
            group.numbers.add(number)
            self._pending += 1
            if len(group.recipients) >= self._batch_size:
                await dispatch(groups.pop(template.key))

    # --- the calls ------------------------------------------------------------------------------

    async def _worker(self, batches: MemoryObjectReceiveStream[_Batch]) -> None:
        async with batches:
            async for batch in batches:
                await self._call(batch)

    async def _call(self, batch: _Batch) -> None:
        journal = self._journal
        assert journal is not None
        # how far the input was read, and its digest, at the same moment
        mark = RunMark(self._consumed, self._hasher.hexdigest())
        batch_id = journal.begin(
            batch.template.key, batch.template.options, batch.recipients, mark, time.time()
        )
        for _, _, number in batch.recipients:
            self._bloom.add(batch.template.key, number)
        queued = self._queued.get(batch.template.key)
        if queued is not None:
            queued.difference_update(number for _, _, number in batch.recipients)
            if not queued:
                del self._queued[batch.template.key]
        self._calls += 1
        self._call_times.append(time.monotonic())
        numbers = [number for _, _, number in batch.recipients]
        try:
            result = await self._client.sms.send(to=numbers, **batch.template.kwargs)
        except (OutcomeUnknownError, ResponseParseError) as exc:
            journal.finish(batch_id, UNKNOWN, None, str(exc))
            if not self._reconcile:
                await self._emit_all(
                    [
                        BulkResult(i, raw, UNKNOWN, number, reason=str(exc), error=exc)
                        for i, raw, number in batch.recipients
                    ]
                )
            return
        except SmsApiError as exc:
            # refused by the API, or never sent (connection refused, rate limit beyond every retry)
            journal.finish(batch_id, FAILED, None, str(exc))
            await self._emit_all(
                [
                    BulkResult(i, raw, FAILED, number, reason=str(exc), error=exc)
                    for i, raw, number in batch.recipients
                ]
            )
            return
        journal.finish(batch_id, SENT, result.message_id, "")
        refused = dict.fromkeys(result.fails, _LISTED_IN_FAILS)
        # an answer without a count (0) says nothing; a count below what was sent says some were skipped
        if 0 < result.recipients < len(numbers) - len(refused):
            refused.update(await self._skipped(result.message_id, numbers, refused))
        for reason in set(refused.values()):
            journal.finish_recipients(
                batch_id, {n for n, why in refused.items() if why == reason}, FAILED, reason
            )
        await self._emit_all(
            [
                BulkResult(i, raw, FAILED, number, reason=refused[number])
                if number in refused
                else BulkResult(i, raw, SENT, number, result.message_id)
                for i, raw, number in batch.recipients
            ]
        )

    async def _skipped(
        self, message_id: int, numbers: list[str], refused: Mapping[str, str]
    ) -> dict[str, str]:
        """The numbers of a send that the API accepted for fewer recipients than it was given.

        The API skips numbers it cannot use (a local number without ``countrycode``, say) without
        failing the call and, today, without naming them. The message's own recipient list
        (``get-sms-sent``) says who it went to; the rest were skipped. If that list cannot be read,
        nothing is marked: the recipients stay reported as sent, as the API answered.
        """
        try:
            accepted = await self._read(
                lambda: self._client.sms.sent(message_id, page_size=MAX_PAGE_SIZE).to_list()
            )
        except SmsApiError:
            return {}
        went = {recipient.msisdn for recipient in accepted}
        return {number: _SKIPPED for number in numbers if number not in went and number not in refused}

    # --- reconciliation -------------------------------------------------------------------------

    async def _reconcile_unknown(self) -> None:
        journal = self._journal
        assert journal is not None
        for round_number in range(self._reconcile_rounds + 1):
            unknown = journal.unknown()
            if not unknown:
                break
            if self._reconcile_delay:
                await anyio.sleep(self._reconcile_delay)  # let the API record what it did accept
            try:
                found = await self._find_sent(unknown)
            except SmsApiError:
                continue  # the look-ups failed: still unknown, tried again next round
            resend = await self._settle(unknown, found, last=round_number == self._reconcile_rounds)
            if resend:
                await self._send_again(resend)
        for record in journal.unknown():
            for index, raw, number in record.recipients:
                await self._emit(
                    BulkResult(
                        index, raw, UNKNOWN, number, reason="outcome still unknown after reconciliation"
                    )
                )

    async def _read(self, read: Callable[[], Awaitable[T]]) -> T:
        """A reconciliation look-up: a read, so safe to repeat beyond the client's own retries."""
        for attempt in range(3):
            self._calls += 1
            self._call_times.append(time.monotonic())
            try:
                return await read()
            except SmsApiError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _find_sent(self, unknown: list[BatchRecord]) -> dict[int, int]:
        """Which calls of unknown outcome went out: batch id -> message id, from the account's
        sent messages (``get-user-sms-sent``) around the time they were made."""
        wanted: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        settled: dict[int, int] = {}
        earliest = time.time()
        for record in unknown:
            template = _template_from_json(record.options)
            send_at = template.kwargs.get("send_at")
            if isinstance(send_at, datetime) and send_at > datetime.now(timezone.utc):
                continue  # scheduled for later: not in the sent report yet, cannot be settled now
            pattern = _text_pattern(template.kwargs["message"])
            earliest = min(earliest, record.started_at)
            for _, _, number in record.recipients:
                wanted.setdefault(number, []).append((record.batch_id, pattern))
        if not wanted:
            return settled

        def match(rows: Iterable[UserSentMessage]) -> None:
            for row in rows:
                for batch_id, pattern in wanted.get(row.msisdn, ()):
                    if pattern.match(row.message):
                        settled.setdefault(batch_id, row.message_id)

        # margins for clock differences between here and the API
        start = datetime.fromtimestamp(earliest, timezone.utc) - timedelta(minutes=10)
        end = datetime.now(timezone.utc) + timedelta(minutes=10)
        window = self._client.sms.user_sent(start=start, end=end, page_size=MAX_PAGE_SIZE)
        first = await self._read(window.first_page)
        match(first.items)
        if first.count <= len(wanted):
            # the whole window page by page: fewer look-ups than one per recipient
            for page_number in range(2, first.count + 1):
                page = await self._read(functools.partial(window.fetch_page, page_number))
                match(page.items)
            return settled
        for number, batches in wanted.items():
            if all(batch_id in settled for batch_id, _ in batches):
                continue  # one recipient showing a call is enough to settle it
            one = self._client.sms.user_sent(start=start, end=end, msisdn=number, page_size=MAX_PAGE_SIZE)
            match(await self._read(one.to_list))
        return settled

    async def _settle(self, unknown: list[BatchRecord], found: dict[int, int], *, last: bool) -> list[_Batch]:
        """Record what reconciliation found; return the calls to make again (provably not sent)."""
        journal = self._journal
        assert journal is not None
        resend: list[_Batch] = []
        for record in unknown:
            template = _template_from_json(record.options)
            send_at = template.kwargs.get("send_at")
            if isinstance(send_at, datetime) and send_at > datetime.now(timezone.utc):
                continue
            message_id = found.get(record.batch_id)
            if message_id is not None:
                journal.finish(record.batch_id, SENT, message_id, "")
                for index, raw, number in record.recipients:
                    await self._emit(BulkResult(index, raw, SENT, number, message_id, "reconciled"))
                continue
            # no recipient shows it, and one send-sms call reaches all its recipients or none
            journal.finish(record.batch_id, FAILED, None, "not sent (reconciled: no recipient received it)")
            if last:
                reason = _GAVE_UP.format(self._reconcile_rounds)
                for index, raw, number in record.recipients:
                    await self._emit(BulkResult(index, raw, FAILED, number, reason=reason))
            else:
                resend.append(_Batch(template, list(record.recipients)))
        return resend

    async def _send_again(self, resend: list[_Batch]) -> None:
        batches_send, batches_receive = anyio.create_memory_object_stream[_Batch](len(resend))
        async with anyio.create_task_group() as workers:
            for _ in range(min(self._concurrency, len(resend))):
                workers.start_soon(self._worker, batches_receive.clone())
            batches_receive.close()
            async with batches_send:
                for batch in resend:
                    await batches_send.send(batch)


__all__ += ["BatchRecord", "Journal", "JournalError", "JournalMismatchError", "SQLiteJournal"]
