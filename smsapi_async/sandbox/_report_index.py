"""In-memory indexes for the reporting calls, so that a page costs O(page + log n), not O(state).

Everything here is derived from :class:`~._state.State` and never saved: the index of a state is made
on first use (:func:`report_index`) and catches up with the state before each look-up
(:meth:`ReportIndex.sync`). Catching up is cheap because the state only grows in known ways:

* ``state.messages`` and ``state.responses`` are only appended to, so the entries beyond the counts
  already seen are the new ones (a state whose collections were replaced or shrank is re-read whole);
* a message enters the sent timelines once its ``send_at`` has come, and only if it is not cancelled
  then: a message can be cancelled only before it is sent, so a sent message never changes status
  (should a clock step back, ``cancel-sms`` calls :meth:`ReportIndex.cancelled` and the index is
  re-read);
* a recipient's ``optout`` and ``link_hits`` change in ``_lifecycle.py``, which calls
  :meth:`ReportIndex.recipient_changed` so the per-message caches are recomputed.

Timelines keep their items sorted by ``(time, tie-break)``; a date window is two binary searches
and a newest-first page is a slice. :attr:`ReportIndex.work` counts the items a look-up examined
(keys compared while searching or inserting, rows read or filtered), which tests use to show a page's
cost without timing it.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import attrs

from ._state import Account, Message, Recipient, Response, State, Transaction

__all__ = ["ReportIndex", "Selection", "SentRow", "Timeline", "report_index", "select"]

T = TypeVar("T")
K = TypeVar("K")
SentRow = tuple[Message, Recipient]
Key = tuple[float, float]

_FILTERED_CACHE = 64  # get-sms-sent filtered views kept (each is one message's matching recipients)


class Timeline(Generic[T]):
    """Items sorted by ``key`` (oldest first); windows by binary search, pages newest first."""

    __slots__ = ("_cum", "items", "owner")

    def __init__(self, owner: _Keyed[T]) -> None:
        self.items: list[T] = []
        self.owner = owner
        self._cum: list[int] = [0]  # _cum[k]: the weight of items[:k], valid for k < len(_cum)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: T) -> None:
        key = self.owner.key
        at = len(self.items)
        if at and key(self.items[-1]) > key(item):  # not the newest: find its place
            at = bisect_right(self.items, key(item), key=key)
        self.items.insert(at, item)
        del self._cum[at + 1 :]

    def window(self, start: float | None, end: float | None) -> tuple[int, int]:
        """``(i, j)``: ``items[i:j]`` are those whose time is within ``[start, end]``."""
        key = self.owner.key
        i = 0 if start is None else bisect_left(self.items, (start, -math.inf), key=key)
        j = len(self.items) if end is None else bisect_right(self.items, (end, math.inf), key=key)
        return i, max(i, j)

    def newest_first(self, i: int, j: int, offset: int, size: int) -> list[T]:
        """``size`` items of ``items[i:j]`` from the newest, after skipping ``offset``."""
        hi = j - offset
        lo = max(i, hi - size)
        if hi <= lo:
            return []
        self.owner.index.work += hi - lo
        return self.items[lo:hi][::-1]

    def weight(self, i: int, j: int, weigh: Callable[[T], int]) -> int:
        """The summed weight of ``items[i:j]`` from prefix sums (extended only as far as needed)."""
        cum = self._cum
        while len(cum) <= j:
            cum.append(cum[-1] + weigh(self.items[len(cum) - 1]))
            self.owner.index.work += 1
        return cum[j] - cum[i]


@attrs.define(eq=False)
class _Keyed(Generic[T]):
    """The key shared by one kind of timeline; counts every key it computes."""

    index: ReportIndex
    by: Callable[[T], Key]

    def key(self, item: T) -> Key:
        self.index.work += 1
        return self.by(item)

    def timeline(self) -> Timeline[T]:
        return Timeline(self)


@attrs.define(eq=False)
class _Facts:
    """What a message's recipients say, computed once per message (recipients never change after a
    send; their ``optout`` / ``link_hits`` do, and ``version`` tells)."""

    by_msisdn: dict[str, Recipient] | None = None
    final_ats: list[float] | None = None
    sms: int | None = None
    version: int = 0
    counted: tuple[tuple[int, bool, int], dict[str, int]] | None = None
    hits: tuple[int, list[Recipient]] | None = None


class ReportIndex:
    """Sent rows, sent messages and responses of each account, by time, with the usual filters."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.work = 0
        self._rows = _Keyed[SentRow](self, lambda row: (row[0].send_at, float(row[1].row_id)))
        self._messages = _Keyed[Message](self, lambda m: (m.send_at, float(-m.id)))
        self._replies = _Keyed[Response](self, lambda r: (r.received_at, float(r.id)))
        self._reset()

    def _reset(self) -> None:
        self._facts: dict[int, _Facts] = {}
        self._filtered: OrderedDict[tuple[int, str, str], tuple[tuple[int, bool, int], list[Recipient]]]
        self._filtered = OrderedDict()
        self._seen_messages: dict[int, Message] = self.state.messages
        self._seen_responses: list[Response] = self.state.responses
        self._message_count = 0
        self._response_count = 0
        self._scheduled: list[tuple[float, int, Message]] = []
        self._stale = False
        self._sent_until = -math.inf  # every message sent by then is in the timelines
        self.sent: dict[int, Timeline[SentRow]] = {}
        self.sent_to: dict[int, dict[str, Timeline[SentRow]]] = {}
        self.messages: dict[int, Timeline[Message]] = {}
        self.messages_of_type: dict[int, dict[str, Timeline[Message]]] = {}
        self.messages_from: dict[int, dict[str, Timeline[Message]]] = {}
        self.replies: dict[int, Timeline[Response]] = {}
        self.replies_to_message: dict[int, dict[int, Timeline[Response]]] = {}
        self.replies_to_keyword: dict[int, dict[int, Timeline[Response]]] = {}
        self.replies_from: dict[int, dict[str, Timeline[Response]]] = {}
        self.replies_at: dict[int, dict[str | None, Timeline[Response]]] = {}
        self.replies_keyworded: dict[int, dict[bool, Timeline[Response]]] = {}
        self._reply_counts: dict[int, int] = {}
        self._last_seen_id = -1  # messages with ids up to this one are counted in ``_totals``
        self._totals: dict[int, tuple[int, int]] = {}  # account -> (spend in 1/1000, sms) not cancelled
        self._ledgers: dict[int, tuple[list[Transaction], int, bool]] = {}
        self._accounts_seen = 0
        self._clients: dict[int | None, list[Account]] = {}

    # --- keeping up with the state ----------------------------------------------------------------

    def sync(self, now: float) -> None:
        """Take in the messages and responses added since the last look-up, and the messages whose
        send time has come by ``now``."""
        state = self.state
        if (
            self._stale
            or state.messages is not self._seen_messages
            or len(state.messages) < self._message_count
        ):
            self._reset()
        self.sync_responses()
        added = len(state.messages) - self._message_count
        if added:
            if added == len(state.messages):
                new: Iterable[Message] = state.messages.values()
            else:
                tail = reversed(state.messages)  # the newest ids, as dicts keep insertion order
                new = reversed([state.messages[next(tail)] for _ in range(added)])
            for message in new:
                self.work += 1
                if not message.cancelled:
                    heapq.heappush(self._scheduled, (message.send_at, message.id, message))
                    self._count(message, 1)
                self._last_seen_id = max(self._last_seen_id, message.id)
            self._message_count = len(state.messages)
        self._sent_until = max(self._sent_until, now)
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, message = heapq.heappop(self._scheduled)
            if not message.cancelled:
                self._add_sent(message)

    def sync_responses(self) -> None:
        """Take in the responses added since the last look-up."""
        state = self.state
        if state.responses is not self._seen_responses or len(state.responses) < self._response_count:
            self._reset()
        for response in state.responses[self._response_count :]:
            self._add_response(response)
        self._response_count = len(state.responses)

    def cancelled(self, message: Message) -> None:
        """``message`` was cancelled: only a message not sent yet can be (unless a clock stepped back,
        when the index is re-read on the next look-up)."""
        if message.send_at <= self._sent_until:
            self._stale = True
        elif message.id <= self._last_seen_id:
            self._count(message, -1)

    def _count(self, message: Message, sign: int) -> None:
        spend, sms = self._totals.get(message.account_id, (0, 0))
        cost = round(message.cost * 1000) * sign
        self._totals[message.account_id] = (spend + cost, sms + self.sms(message) * sign)

    def totals(self, account_id: int, now: float) -> tuple[float, int]:
        """What ``account_id``'s messages not cancelled (scheduled ones too) cost, and their parts."""
        self.sync(now)
        spend, sms = self._totals.get(account_id, (0, 0))
        return spend / 1000, sms

    def clients(self, parent_id: int) -> list[Account]:
        """The accounts whose parent is ``parent_id``, oldest first (accounts are only added)."""
        accounts = self.state.accounts
        if len(accounts) < self._accounts_seen:
            self._clients, self._accounts_seen = {}, 0
        if len(accounts) > self._accounts_seen:
            added = len(accounts) - self._accounts_seen
            tail = reversed(accounts)
            for account in reversed([accounts[next(tail)] for _ in range(added)]):
                self.work += 1
                self._clients.setdefault(account.parent_id, []).append(account)
            self._accounts_seen = len(accounts)
        return self._clients.get(parent_id, [])

    def ledger_window(
        self, account: Account, start: float | None, end: float | None
    ) -> tuple[int, int] | None:
        """``(i, j)``: ``account.transactions[i:j]`` are those created within ``[start, end]``, when
        the ledger is in time order (as a clock that only moves forward makes it); else ``None``."""
        ledger = account.transactions
        seen, checked, in_order = self._ledgers.get(account.id, (ledger, 0, True))
        if seen is not ledger or checked > len(ledger):
            checked, in_order = 0, True
        for k in range(max(checked, 1), len(ledger)):
            self.work += 1
            in_order = in_order and ledger[k - 1].created <= ledger[k].created
        self._ledgers[account.id] = (ledger, len(ledger), in_order)
        if not in_order:
            return None
        key = self._ledger_key
        i = 0 if start is None else bisect_left(ledger, start, key=key)
        j = len(ledger) if end is None else bisect_right(ledger, end, key=key)
        return i, max(i, j)

    def _ledger_key(self, t: Transaction) -> float:
        self.work += 1
        return t.created

    def last_sent_to(self, msisdn: str, account_id: int | None, now: float) -> Message | None:
        """The message last sent to ``msisdn`` by ``now`` (of ``account_id`` unless ``None``): the
        latest send time, the oldest message among equals."""
        self.sync(now)
        best: Message | None = None
        for account, timelines in self.sent_to.items():
            timeline = timelines.get(msisdn)
            if timeline is None or account_id not in (None, account):
                continue
            i, j = timeline.window(None, now)
            for k in range(j - 1, i - 1, -1):
                self.work += 1
                message = timeline.items[k][0]
                if best is not None and (message.send_at, -message.id) < (best.send_at, -best.id):
                    break
                best = message
        return best

    def recipient_changed(self, message: Message) -> None:
        """A recipient of ``message`` opted out or hit its link."""
        self._facts_of(message).version += 1

    def _add_sent(self, message: Message) -> None:
        account = message.account_id
        self._timeline(self.messages, account, self._messages).add(message)
        self._timeline(self.messages_of_type.setdefault(account, {}), message.type, self._messages).add(
            message
        )
        self._timeline(self.messages_from.setdefault(account, {}), message.sender, self._messages).add(
            message
        )
        everyone = self._timeline(self.sent, account, self._rows)
        each = self.sent_to.setdefault(account, {})
        for recipient in message.recipients:
            row = (message, recipient)
            everyone.add(row)
            self._timeline(each, recipient.msisdn, self._rows).add(row)

    def _add_response(self, r: Response) -> None:
        account = r.account_id
        self._reply_counts[r.message_id] = self._reply_counts.get(r.message_id, 0) + 1
        self._timeline(self.replies, account, self._replies).add(r)
        self._timeline(self.replies_to_message.setdefault(account, {}), r.message_id, self._replies).add(r)
        self._timeline(self.replies_to_keyword.setdefault(account, {}), r.keyword_id, self._replies).add(r)
        self._timeline(self.replies_from.setdefault(account, {}), r.msisdn, self._replies).add(r)
        self._timeline(self.replies_at.setdefault(account, {}), r.longcode, self._replies).add(r)
        self._timeline(self.replies_keyworded.setdefault(account, {}), bool(r.keyword_id), self._replies).add(
            r
        )

    @staticmethod
    def _timeline(where: dict[K, Timeline[T]], key: K, keyed: _Keyed[T]) -> Timeline[T]:
        timeline = where.get(key)
        if timeline is None:
            timeline = where[key] = keyed.timeline()
        return timeline

    def empty_rows(self) -> Timeline[SentRow]:
        return self._rows.timeline()

    def empty_messages(self) -> Timeline[Message]:
        return self._messages.timeline()

    def empty_replies(self) -> Timeline[Response]:
        return self._replies.timeline()

    # --- one message ------------------------------------------------------------------------------

    def _facts_of(self, message: Message) -> _Facts:
        facts = self._facts.get(message.id)
        if facts is None:
            facts = self._facts[message.id] = _Facts()
        return facts

    def reply_count(self, message_id: int) -> int:
        """Responses to ``message_id`` (any account's, as the counters always counted them)."""
        return self._reply_counts.get(message_id, 0)

    def recipient(self, message: Message, msisdn: str | None) -> Recipient | None:
        """The recipient of ``message`` with this number (the first, as a walk would find)."""
        facts = self._facts_of(message)
        if facts.by_msisdn is None:
            facts.by_msisdn = {}
            for recipient in message.recipients:
                self.work += 1
                facts.by_msisdn.setdefault(recipient.msisdn, recipient)
        self.work += 1
        return None if msisdn is None else facts.by_msisdn.get(msisdn)

    def sms(self, message: Message) -> int:
        """``message.sms`` (its parts summed), computed once."""
        facts = self._facts_of(message)
        if facts.sms is None:
            self.work += len(message.recipients)
            facts.sms = message.sms
        return facts.sms

    def phase(self, message: Message, now: float) -> tuple[int, bool, int]:
        """What the statuses of ``message``'s recipients depend on at ``now``: how many of its
        distinct receipt times have passed, whether it is cancelled, and its recipients' version."""
        facts = self._facts_of(message)
        if facts.final_ats is None:
            self.work += len(message.recipients)
            facts.final_ats = sorted({r.final_at for r in message.recipients})
        return bisect_right(facts.final_ats, now), message.cancelled, facts.version

    def counters(
        self, message: Message, now: float, status: Callable[[Recipient, float], str]
    ) -> dict[str, int]:
        """The per-message counters (see ``_lifecycle.counters``), recomputed only when ``phase``
        moves."""
        facts = self._facts_of(message)
        phase = self.phase(message, now)
        if facts.counted is None or facts.counted[0] != phase:
            result = {"delivered": 0, "pending": 0, "soft-bounce": 0, "hard-bounce": 0}
            if not message.cancelled:
                for recipient in message.recipients:
                    result[status(recipient, now)] += 1
            result["optouts"] = sum(1 for r in message.recipients if r.optout)
            result["link_hits"] = sum(r.link_hits for r in message.recipients)
            self.work += len(message.recipients)
            facts.counted = (phase, result)
        return {**facts.counted[1], "responses": self.reply_count(message.id)}

    def filtered(
        self, message: Message, now: float, optouts: str, delivery: str, rows: Callable[[], list[Recipient]]
    ) -> list[Recipient]:
        """get-sms-sent's recipients of ``message`` for one filter, kept while ``phase`` stands."""
        phase = self.phase(message, now)
        key = (message.id, optouts, delivery)
        cached = self._filtered.get(key)
        if cached is not None and cached[0] == phase:
            self._filtered.move_to_end(key)
            return cached[1]
        found = rows()
        self.work += len(message.recipients)
        self._filtered[key] = (phase, found)
        if len(self._filtered) > _FILTERED_CACHE:
            self._filtered.popitem(last=False)
        return found

    def link_hits(self, message: Message) -> list[Recipient]:
        """The recipients of ``message`` who hit its link, in send order."""
        facts = self._facts_of(message)
        if facts.hits is None or facts.hits[0] != facts.version:
            self.work += len(message.recipients)
            facts.hits = (facts.version, [r for r in message.recipients if r.link_hits])
        return facts.hits[1]


def report_index(state: State) -> ReportIndex:
    """The index of ``state`` (made on first use, never saved)."""
    index: ReportIndex | None = getattr(state, "_report_index", None)
    if index is None or index.state is not state:
        index = ReportIndex(state)
        state._report_index = index  # type: ignore[attr-defined]
    return index


@attrs.define(eq=False)
class Selection(Generic[T]):
    """The items of a timeline within a window (``rows is None``), or those of them that passed the
    other filters (``rows``, newest first)."""

    timeline: Timeline[T]
    i: int
    j: int
    rows: list[T] | None = None

    @property
    def total(self) -> int:
        return self.j - self.i if self.rows is None else len(self.rows)

    def page(self, offset: int, size: int) -> Sequence[T]:
        if self.rows is None:
            return self.timeline.newest_first(self.i, self.j, offset, size)
        return self.rows[offset : offset + size]

    def weight(self, weigh: Callable[[T], int]) -> int:
        if self.rows is None:
            return self.timeline.weight(self.i, self.j, weigh)
        return sum(weigh(item) for item in self.rows)


def select(
    everything: Timeline[T],
    filters: Sequence[tuple[Timeline[T] | None, Callable[[T], bool]]],
    start: float | None,
    end: float | None,
) -> Selection[T]:
    """The items within ``[start, end]`` passing every filter. Each filter comes with the timeline of
    the items it keeps (``None``: no item passes); the timeline whose window is the smallest is
    walked and the other filters tested on it, so one filter costs O(log n) plus the page, and
    several cost the smallest of their windows. ``everything`` is the timeline of all items."""
    candidates = [(t, f) for t, f in filters] or [(everything, _keep)]
    if any(t is None for t, _ in candidates):
        return Selection(everything, 0, 0, [])
    windows = [(t, t.window(start, end), f) for t, f in candidates if t is not None]
    timeline, (i, j), _ = min(windows, key=lambda w: w[1][1] - w[1][0])
    if len(windows) == 1:
        return Selection(timeline, i, j)
    others = [f for t, _, f in windows if t is not timeline]
    timeline.owner.index.work += j - i
    rows = [item for item in timeline.items[i:j][::-1] if all(f(item) for f in others)]
    return Selection(timeline, i, j, rows)


def _keep(item: object) -> bool:
    return True
