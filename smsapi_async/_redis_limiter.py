"""A rate limiter shared by every process and host of an account, kept in Redis (or Valkey).

The schedule lives in **one Redis hash per account** and is changed only by one Lua script, which
reads the time from the Redis server (``TIME``): no client clock ever decides a grant, so hosts
whose clocks disagree, or processes whose monotonic clocks start anywhere, share one schedule.
The script implements GCRA (virtual scheduling), the same algorithm as the in-process
:class:`~smsapi_async.RateLimiter`, with the same interval (rate, safety margin and timer slack),
so any ``rate + 1`` slots across the whole fleet span at least ``1 + safety_margin +
TIMER_SLACK`` seconds of Redis time.

Waiting is local and fair: each process queues its callers first come first served behind **one**
head, and only the head talks to Redis. It *reserves* the next slot (the script answers "yours is
in N µs"), sleeps until then, and *claims* it (the script checks that no pause came meanwhile and
that the last grant taken, by anyone, is an interval old). Slots go out in the order processes
ask, so processes take turns instead of racing for each slot: about two round trips per grant
whatever the number of processes or waiters, nobody polls, nobody starves.

What the client learns is shared through the same hash:

* ``pause(seconds)`` (the client calls it on HTTP 429) holds every process of the account;
* ``request_sent()`` (the client calls it when a request's first bytes leave) pushes the shared
  schedule when a request left late (after a TCP/TLS handshake), so the server, which counts
  arrivals, still sees at most ``rate`` in any second.

Both take effect locally at once and reach Redis on the next :meth:`RedisRateLimiter.flush`,
which the client awaits right after calling them (and which the head runs before each grant).

Outages: see :class:`RedisRateLimiter` (default: fail closed, with backoff).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import threading
from types import TracebackType
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import sniffio

from ._clock import Clock, SystemClock
from ._exceptions import InvalidRequestError, QueueTimeoutError, SmsApiError
from ._lanes import LANE_SHARE, PRIORITIES, Lanes, Priority, lane_of, past_deadline, wait_for
from ._latency import MIN_LATENCY_SAMPLES, LatencyWindow
from ._limiter import (
    COLD_START_MARGIN,
    DEFAULT_MAX_SAFETY_MARGIN,
    DEFAULT_SAFETY_MARGIN,
    MAX_RATE,
    PROBE_BLAME,
    RATE_CEILING_MEMORY,
    RELAX_AFTER,
    TIMER_SLACK,
    RateLimiter,
)
from ._resp import RespConnection, RespError, parse_redis_url

__all__ = ["RedisLimiterError", "RedisRateLimiter", "SharedReservation", "account_key"]

log = logging.getLogger("smsapi_async.limiter")

WINDOW = 1.0
"""The API counts calls in windows of one second."""

KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_TRANSIENT_REPLIES = ("LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY", "NOSCRIPT")

# One script, five operations on one hash (times in µs on the Redis server's clock). `ctat` spaces
# the grants (GCRA): a grant is at least one interval (less the timer slack) after the one before,
# so a process waking late for its turn cannot bring its request closer than that to the next.
# Slots are numbered in three lanes (interactive, default, bulk: ARGV[14] is the caller's, 0-2),
# `seq<i>` handing them out and `served<i>` the last taken. A slot is taken in number order within
# its lane, unless the one before it is `grace` overdue (its holder died, was cancelled or is very
# late); across lanes, the grant goes to the highest lane with a slot outstanding whose holders
# asked within `stale` µs (`act<i>`), except that a lane which took `share - 1` grants in a row
# (`run<i>`) while a lower one waited gives the next grant to the highest lower lane: the same rule
# as each process's local lanes. So processes take turns within a lane, an interactive call in one
# process goes ahead of bulk work queued in others, and none can starve another by being quicker.
# A missing hash (first use, expiry after idle_ttl, a restart or a flush) starts with no grant for
# `hold`: whoever granted last before the loss may have done so a moment ago. So does a caller that
# just reconnected (`fence`): Redis may have come back from a snapshot older than its last grant.
# With burst > 1, `recent` keeps the last `rate` grant times: no grant while they span less than
# 1 s plus the margin (GCRA alone would let the grant after a burst come one interval after it).
# Rate discovery (ARGV[17] `max_rate` above the caller's rate): the rate in force is kept in the
# hash (`rate`) and shared; each window of back-to-back grants without a 429 raises it by one call
# per second, up to `max_rate` and below `ceil`, the last rate that drew a 429 (forgotten after
# `forget` µs); a 429 within `probe` µs of a raise halves the rate and sets `ceil`; any other 429
# doubles the shared margin, as without discovery.
#   acquire: reserve the next slot of the caller's lane and, if it is now, take it:
#            {1, now, 0, 0, number, ...}; else {0, now, wait, pause left, number, ...}: claim after `wait`
#   claim:   take slot `arg`: {1, now, 0, 0, arg, ...}, or {0, now, wait, pause left, arg, ...}: again
#   pause:   nobody is granted until now + arg
#   sent:    a request left at `arg` (server time): the next grant is at least one interval later
#   rejected: the server answered 429 to a request paced here (see rate discovery)
# Every reply ends with the margin in force (µs) and the rate in force (calls per 1000 s).
_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local key = KEYS[1]
local op = ARGV[1]
local base_rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local most = tonumber(ARGV[5])
local slack = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local arg = tonumber(ARGV[8])
local hold = tonumber(ARGV[9])
local fence = ARGV[10] == '1'
local grace = tonumber(ARGV[11])
local spread = tonumber(ARGV[12])
local relax_after = tonumber(ARGV[13])
local me = tonumber(ARGV[14]) + 1
local stale = tonumber(ARGV[15])
local share = tonumber(ARGV[16])
local max_rate = tonumber(ARGV[17])
local probe = tonumber(ARGV[18])
local forget = tonumber(ARGV[19])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', key, 'ctat', 'pause', 'learned', 'relaxed', 'recent',
  'seq1', 'seq2', 'seq3', 'served1', 'served2', 'served3', 'act1', 'act2', 'act3', 'run1', 'run2', 'run3',
  'rate', 'ceil', 'changed', 'ceiled', 'clean')
local ctat = tonumber(state[1])
local paused = tonumber(state[2]) or 0
local learned = tonumber(state[3]) or 0
local relaxed = tonumber(state[4]) or 0
local seq = {tonumber(state[6]) or 0, tonumber(state[7]) or 0, tonumber(state[8]) or 0}
local served = {tonumber(state[9]) or 0, tonumber(state[10]) or 0, tonumber(state[11]) or 0}
local act = {tonumber(state[12]) or 0, tonumber(state[13]) or 0, tonumber(state[14]) or 0}
local run = {tonumber(state[15]) or 0, tonumber(state[16]) or 0, tonumber(state[17]) or 0}
local rate = base_rate
local ceil = tonumber(state[19]) or 0
local changed = tonumber(state[20]) or now
local ceiled = tonumber(state[21]) or 0
local clean = tonumber(state[22]) or 0
local dirty = false
if max_rate > base_rate then
  rate = math.min(max_rate, math.max(base_rate, tonumber(state[18]) or base_rate))
  if ceil > 0 and now - ceiled >= forget then ceil = 0; dirty = true end
end
if learned > 0 and now - relaxed >= relax_after then
  if learned / 2 > floor then learned = learned / 2 else learned = 0 end
  relaxed = now
  dirty = true
end
local margin = math.min(most, math.max(floor, spread, learned))
if op == 'rejected' then
  if max_rate > base_rate and rate > base_rate and now - changed <= probe then
    ceil = rate
    ceiled = now
    rate = math.max(base_rate, math.floor(rate / 2))
    changed = now
    clean = 0
  else
    learned = math.min(most, math.max(learned, 2 * margin))
    relaxed = now
    margin = math.min(most, math.max(floor, spread, learned))
  end
  dirty = true
end
local interval = (1000000 + margin + slack) / rate
local cap = math.max(1, math.floor(rate))
if burst > cap then burst = cap end
local tolerance = (burst - 1) * interval
local granted = 0
local wait = 0
if ctat == nil or fence then
  ctat = math.max(ctat or 0, now + tolerance + hold)
  dirty = true
end
local recent = {}
if burst > 1 then
  for v in string.gmatch(state[5] or '', '%d+') do recent[#recent + 1] = tonumber(v) end
end
local function waiting(i)
  return seq[i] > served[i] and now - act[i] <= stale
end
local function chosen()
  for h = 1, 3 do
    if waiting(h) then
      if run[h] >= share - 1 then
        for l = h + 1, 3 do
          if waiting(l) then return l end
        end
      end
      return h
    end
  end
  return nil
end
local function ready_at()
  local ready = ctat - tolerance
  if #recent >= cap then
    ready = math.max(ready, recent[#recent - cap + 1] + 1000000 + margin)
  end
  return math.max(ready, paused)
end
local function claim(n)
  act[me] = now
  dirty = true
  local ready = ready_at()
  if now < ready then
    wait = ready - now
    return
  end
  local turn = chosen()
  if turn ~= nil and turn ~= me then
    wait = interval
    return
  end
  if n > served[me] + 1 and now < ready + grace then
    wait = ready + grace - now
    return
  end
  local busy = now <= ctat + interval / 2
  ctat = math.max(ctat, now - slack) + interval
  served[me] = math.max(served[me], n)
  for h = 1, me - 1 do run[h] = 0 end
  local lower = false
  for l = me + 1, 3 do
    if waiting(l) then lower = true end
  end
  if lower then run[me] = run[me] + 1 else run[me] = 0 end
  if burst > 1 then
    recent[#recent + 1] = now
    while #recent > cap do table.remove(recent, 1) end
  end
  if max_rate > rate then
    -- probing: one step up per window of back-to-back grants (demand at the full rate) without a
    -- 429, below the ceiling; a grant after a lull starts the count again
    if busy then clean = clean + 1 else clean = 0 end
    if clean >= cap and now - changed >= 1000000 + margin and (ceil == 0 or rate + 1 < ceil) then
      rate = math.min(max_rate, rate + 1)
      changed = now
      clean = 0
    end
  end
  granted = 1
end
local number = arg
if op == 'acquire' then
  seq[me] = seq[me] + 1
  number = seq[me]
  act[me] = now
  dirty = true
  local ahead = seq[me] - served[me] - 1
  for h = 1, me - 1 do
    if waiting(h) then ahead = ahead + seq[h] - served[h] end
  end
  local slot = math.max(ready_at(), now) + ahead * interval
  if slot > now then
    wait = slot - now
  else
    claim(number)
  end
elseif op == 'claim' then
  claim(number)
elseif op == 'pause' then
  paused = math.max(paused, now + arg)
  dirty = true
elseif op == 'sent' then
  if arg + interval > ctat + tolerance then
    ctat = arg + interval
    dirty = true
  end
end
if dirty then
  redis.call('HSET', key, 'ctat', string.format('%.0f', ctat), 'pause', string.format('%.0f', paused),
    'learned', string.format('%.0f', learned), 'relaxed', string.format('%.0f', relaxed),
    'seq1', seq[1], 'seq2', seq[2], 'seq3', seq[3], 'served1', served[1], 'served2', served[2],
    'served3', served[3], 'act1', string.format('%.0f', act[1]), 'act2', string.format('%.0f', act[2]),
    'act3', string.format('%.0f', act[3]), 'run1', run[1], 'run2', run[2], 'run3', run[3],
    'rate', rate, 'ceil', ceil, 'changed', string.format('%.0f', changed),
    'ceiled', string.format('%.0f', ceiled), 'clean', clean)
  if burst > 1 then
    local stamps = {}
    for i, v in ipairs(recent) do stamps[i] = string.format('%.0f', v) end
    redis.call('HSET', key, 'recent', table.concat(stamps, ' '))
  end
  local last = math.max(ctat, paused)
  redis.call('PEXPIRE', key, ttl + math.max(0, math.ceil((last - now) / 1000)))
end
return {granted, now, wait, math.max(0, paused - now), number, math.floor(margin), math.floor(rate * 1000)}
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()

MIN_SEND_LAG = 0.001
"""A request leaving later than this (or half the margin, if more) after its grant moves the
shared schedule (see :meth:`RedisRateLimiter.request_sent`)."""

CLAIM_GRACE = 0.025
"""Seconds a reserved slot is kept for its holder once it could be taken (then the next may go)."""

STALE = 6.0
"""Seconds after which a lane whose slot holders have not asked Redis no longer holds the lanes below
it back (its holders died): a little more than :data:`RECHECK`, the longest a live holder is silent."""

BACKOFF_FIRST = 0.05
BACKOFF_CAP = 2.0

MAX_REPLY_WAIT = 3600.0
"""Longest wait or pause a script reply may name (seconds); a longer one is garbage, not a schedule."""

RECHECK = 5.0
"""The head asks Redis again at least this often while it waits for a slot or out a pause, so that
one wrong reply cannot hold grants back for longer."""

MAX_BAD_REPLIES = 5
"""Consecutive malformed script replies after which a caller gets :class:`RedisLimiterError`."""


class _BadReply(ConnectionError):
    """A script reply that is not one the script gives (a proxy, a foreign server, corruption): it is
    treated as a failed call (backoff, retry), and after :data:`MAX_BAD_REPLIES` as an error."""


def _checked(reply: Any) -> list[int]:
    """The seven integers of a script reply, or :class:`_BadReply`."""
    if not isinstance(reply, (list, tuple)) or len(reply) != 7:
        raise _BadReply(f"the limiter script's reply is not seven values ({type(reply).__name__})")
    if not all(type(value) is int for value in reply):
        raise _BadReply("the limiter script's reply holds values that are not integers")
    granted, now, wait, pause, number, margin, rate = reply
    longest = MAX_REPLY_WAIT * 1_000_000
    if not (
        granted in (0, 1)
        and 0 < now < 2**62
        and 0 <= wait <= longest
        and 0 <= pause <= longest
        and 0 <= number < 2**62
        and 0 <= margin <= 1_000_000
        and 0 < rate <= MAX_RATE * 1000
    ):
        raise _BadReply("the limiter script's reply holds values out of range")
    return list(reply)


class RedisLimiterError(SmsApiError):
    """The shared limiter cannot work with this Redis (wrong password, wrong key type, ...).

    An unreachable or restarting Redis is not an error: callers wait (or fall back, if asked).
    """


def account_key(api_key: str) -> str:
    """The name under which an account's schedule is kept, derived from its API key.

    A SHA-256 digest (prefixed so it is specific to this library): the key never appears in Redis,
    and the same API key gives the same name on every host.
    """
    digest = hashlib.sha256(b"smsapi-async\x00" + api_key.encode("utf-8")).hexdigest()
    return "acct-" + digest[:32]


class _Backend(Protocol):
    async def run(self, key: str, args: list[str]) -> list[int]: ...


def _is_redis_py(client: Any) -> bool:
    return type(client).__module__.startswith(("redis.", "valkey."))


class _RedisPyBackend:
    """A ``redis.asyncio`` (or ``valkey.asyncio``) client: asyncio only."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def run(self, key: str, args: list[str]) -> list[int]:
        try:
            reply = await self.client.evalsha(_SCRIPT_SHA, 1, key, *args)
        except Exception as exc:
            if type(exc).__name__ != "NoScriptError" and not str(exc).startswith("NOSCRIPT"):
                raise
            reply = await self.client.eval(_SCRIPT, 1, key, *args)
        return _checked(reply)


class _RespBackend:
    """The built-in anyio connection (any backend, from a URL)."""

    def __init__(self, url: str) -> None:
        self.connection = RespConnection(url)

    async def run(self, key: str, args: list[str]) -> list[int]:
        try:
            reply = await self.connection.execute("EVALSHA", _SCRIPT_SHA, 1, key, *args)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            reply = await self.connection.execute("EVAL", _SCRIPT, 1, key, *args)
        return _checked(reply)


class _Connector:
    """Where to reach Redis: a client you gave us, or a URL we open per event loop."""

    def __init__(self, redis: Any) -> None:
        self._client: _Backend | None = None
        self._url: str | None = None
        if isinstance(redis, str):
            self._url = redis
            try:
                parse_redis_url(redis)
            except ValueError as exc:
                raise InvalidRequestError(str(exc)) from None
        elif _is_redis_py(redis) and callable(getattr(redis, "evalsha", None)):
            self._client = _RedisPyBackend(redis)
        else:
            raise InvalidRequestError(
                f"redis must be a redis.asyncio client or a redis:// URL, got {type(redis).__name__}"
            )
        self._per_loop: dict[int, tuple[object, _Backend]] = {}
        self._lock = threading.Lock()

    def backend(self) -> _Backend:
        if self._client is not None:
            return self._client
        assert self._url is not None
        token = anyio.lowlevel.current_token().native_token  # the event loop itself
        with self._lock:
            found = self._per_loop.get(id(token))
            if found is not None and found[0] is token:
                return found[1]
            backend = self._open(self._url)
            self._per_loop = {id(token): (token, backend)}  # older loops are gone
            return backend

    @staticmethod
    def _open(url: str) -> _Backend:
        if sniffio.current_async_library() == "asyncio":
            try:
                import redis.asyncio  # noqa: PLC0415 -- the optional extra, loaded only when used
            except ImportError:  # the extra is not installed: the built-in connection works too
                return _RespBackend(url)
            return _RedisPyBackend(redis.asyncio.Redis.from_url(url))
        return _RespBackend(url)

    async def aclose(self) -> None:
        """Close the connection opened for the running event loop (a client you gave is yours)."""
        if self._client is not None:
            return
        token = anyio.lowlevel.current_token().native_token
        with self._lock:
            found = self._per_loop.get(id(token))
            if found is None or found[0] is not token:
                return
            del self._per_loop[id(token)]
        backend = found[1]
        if isinstance(backend, _RespBackend):
            await backend.connection.aclose()
        elif isinstance(backend, _RedisPyBackend):
            await backend.client.aclose()

    def __repr__(self) -> str:
        if self._url is not None:
            s = parse_redis_url(self._url)
            return f"{'rediss' if s['tls'] else 'redis'}://{s['unix_path'] or s['host']}"
        return type(self._client.client).__name__ if isinstance(self._client, _RedisPyBackend) else "redis"


def _transient(exc: BaseException) -> bool:
    """A Redis failure that waiting can cure (as opposed to a misconfiguration)."""
    if isinstance(
        exc,
        (
            OSError,
            TimeoutError,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            anyio.EndOfStream,
            anyio.IncompleteRead,
        ),
    ):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"AuthenticationError", "AuthorizationError", "AuthenticationWrongNumberOfArgsError"}:
        return False  # redis-py files these under ConnectionError, but waiting cures nothing
    if names & {"ConnectionError", "TimeoutError", "BusyLoadingError"}:
        return True
    return str(exc).upper().startswith(_TRANSIENT_REPLIES)


class SharedReservation:
    """A grant from :meth:`RedisRateLimiter.reserve`: report what became of its request, as with a
    :class:`~smsapi_async.Reservation` (the client does). The first report wins."""

    __slots__ = ("_limiter", "_sent_at")

    def __init__(self, limiter: RedisRateLimiter) -> None:
        self._limiter: RedisRateLimiter | None = limiter
        self._sent_at: float | None = None

    def sent(self) -> None:
        """The request's first bytes are leaving now (a late one moves the shared schedule)."""
        limiter = self._limiter
        if limiter is not None and self._sent_at is None:
            self._sent_at = limiter.clock.now()
            limiter._timing = True
            limiter.request_sent(self._sent_at)

    def not_sent(self) -> None:
        """The request never left: its slot simply goes unused."""
        self._limiter = None

    def answered(self, *, rejected: bool = False) -> None:
        """The server answered; ``rejected`` for a 429 (the shared margin doubles)."""
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter._learn(self._sent_at, rejected)

    def close(self) -> None:
        """Nothing more will be reported."""
        self._limiter = None


class RedisRateLimiter:
    """Allow at most ``rate`` calls per second **for all processes and hosts** of one account.

    Args:
        redis: a ``redis.asyncio.Redis`` client (asyncio only; you close it), or a URL:
            ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS) or
            ``unix:///path``. With a URL the limiter connects per event loop: through
            ``redis.asyncio`` under asyncio (extra ``redis``), through a small built-in
            connection under trio.
        key: the account's name in Redis, 1-128 of ``A-Z a-z 0-9 . _ : -`` (e.g. ``"acme-prod"``).
            Leave it out and :class:`~smsapi_async.AsyncSmsClient` names it from a SHA-256 of its
            API key (see :func:`account_key`); the key itself is never stored. The hash is
            ``<prefix>:{<key>}:rate``: the braces are a Redis Cluster hash tag, so each account is
            one slot and the script touches only that key.
        rate: as for :class:`~smsapi_async.RateLimiter`. Every process of an account must use the
            same ``rate``, ``burst`` and ``safety_margin`` (the script uses the caller's).
        burst: as for :class:`~smsapi_async.RateLimiter` (the same in every process).
        safety_margin: as for :class:`~smsapi_async.RateLimiter` (the same in every process).
        adaptive: as for :class:`~smsapi_async.RateLimiter`: the margin is learned by the same
            rules, each process from the latencies of its own answers (its own grants are spaced
            by it), while what 429s teach is kept in Redis for every process.
        max_safety_margin: as for :class:`~smsapi_async.RateLimiter`.
        prefix: the first part of the Redis key (default ``smsapi``).
        idle_ttl: seconds an idle account's hash is kept (default one day). After it expires, or
            after Redis lost it (restart without persistence, flush, eviction), the first grant
            waits one interval: whoever granted last before the loss may have done so just now.
        fallback_rate: what to do while Redis is unreachable. ``None`` (default): **fail closed**,
            callers wait and the head retries with capped exponential backoff (50 ms to 2 s),
            so nothing is sent unaccounted for. A number: each process grants locally at this
            rate meanwhile; choose at most ``rate / processes`` (the processes cannot
            coordinate then). When Redis answers again the first shared grant waits one second
            after this process's last local one. Either way, a process that reconnects starts
            with one interval of quiet.
        call_timeout: seconds one Redis round trip may take before it counts as an outage.
        max_rate: discover the account's real rate up to this, as :class:`~smsapi_async.RateLimiter`
            does, but fleet-wide: the rate found is kept in Redis, shared by every process and
            kept across restarts (until ``idle_ttl``). Give every process the same value.
        clock: where local waits come from (durations only; decisions use the Redis clock).

    Use it wherever a :class:`~smsapi_async.RateLimiter` goes: ``AsyncSmsClient(limiter=...)``,
    ``await limiter.acquire()`` or ``async with limiter:``. Callers in one process queue in the
    same priority lanes as ``RateLimiter``'s (``priority=``, ``max_wait=``); at Redis, the next
    grant goes to the highest lane any process waits in, processes taking turns within a lane,
    with the same starvation guard: an interactive call in one process goes ahead of bulk work
    queued in the others.

    **What it guarantees, and what it does not, when requests leave late.** Grants are spaced on
    the Redis clock: any ``rate + 1`` grants across the fleet span at least ``1 + margin`` seconds
    (with ``burst > 1``, no window of ``1 + margin`` seconds holds more than ``rate`` grants). So a
    server counting arrivals sees at most ``rate`` in any second as long as every request leaves
    within ``margin`` of its grant, less the network's jitter. A request that leaves later than
    half the margin (at least :data:`MIN_SEND_LAG`) is reported (:meth:`request_sent`, which the
    client calls and flushes to Redis before the request's first bytes go out): the next grant,
    in any process, is then at least one interval after that send. Unlike
    :meth:`RateLimiter.reserve <smsapi_async.RateLimiter.reserve>`, a grant here is final when it
    is made: grants made in any process between a late request's grant and its send are not held
    back, so with send lags longer than the margin (a new TCP/TLS connection to a far-away API) a
    second can hold more than ``rate`` arrivals. At 2/s: a request granted at 0 s leaves at 0.6 s
    after a 600 ms handshake, the one granted at 0.5 s leaves at once, the next is granted at
    1.1 s: three arrivals within 0.6 s. Where connection setup can take longer than the margin,
    keep connections warm or pin a margin above it (:meth:`pin_margin`, in every process; the
    throughput is then ``rate / (1 + margin)``).
    """

    def __init__(
        self,
        redis: Any,
        *,
        key: str | None = None,
        rate: float = 2.0,
        burst: int = 1,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        adaptive: bool = True,
        max_safety_margin: float = DEFAULT_MAX_SAFETY_MARGIN,
        prefix: str = "smsapi",
        idle_ttl: float = 86_400.0,
        fallback_rate: float | None = None,
        call_timeout: float = 1.0,
        max_rate: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        # RateLimiter checks rate, burst, margins and max_rate, so both accept the same settings
        self._shape = RateLimiter(
            rate,
            burst,
            safety_margin=safety_margin,
            adaptive=adaptive,
            max_safety_margin=max_safety_margin,
            max_rate=max_rate,
        )
        self._rate_now = float(rate)  # the rate in force, as Redis last said (rate discovery)
        self._adaptive = bool(adaptive)
        self._margin = float(safety_margin)  # the margin in force, as Redis last said
        if key is not None and not (isinstance(key, str) and KEY_PATTERN.fullmatch(key)):
            raise InvalidRequestError("key must be 1-128 characters of A-Z a-z 0-9 . _ : -")
        if not (isinstance(prefix, str) and KEY_PATTERN.fullmatch(prefix)):
            raise InvalidRequestError("prefix must be 1-128 characters of A-Z a-z 0-9 . _ : -")
        for name, value in (("idle_ttl", idle_ttl), ("call_timeout", call_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise InvalidRequestError(f"{name} must be a positive number of seconds, got {value!r}")
        if fallback_rate is not None:
            RateLimiter(fallback_rate)  # same checks
            if fallback_rate > rate:
                raise InvalidRequestError("fallback_rate must not exceed rate")
        self._connector = redis if isinstance(redis, _Connector) else _Connector(redis)
        self._key = key
        self._prefix = prefix
        self._idle_ttl = float(idle_ttl)
        self._fallback_rate = fallback_rate
        self._call_timeout = float(call_timeout)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._family: dict[str, RedisRateLimiter] = {}
        self._rng = random.Random()
        self._grace = str(round(CLAIM_GRACE * 1_000_000))
        self._ops: dict[tuple[str, int], int] = {}
        self._latencies = LatencyWindow()  # this process's answers give the spread it sends
        self._spread = 0.0
        self._pending_rejected = 0
        self._timing = False  # whether any send was timed (then latencies will come)
        self._lanes = Lanes(
            "RedisRateLimiter",
            "give each thread its own limiter (they share the account's rate through Redis)",
            self._forget_head,
        )
        self._lanes.on_change(self._wake_head)
        self._head_sleep: anyio.CancelScope | None = None  # the head's wait, cut short on a new turn
        self._not_before = -math.inf  # local clock: the head asks Redis no earlier
        self._paused_until = -math.inf  # local clock: pauses this process asked for
        self._redis_paused_until = -math.inf  # local clock: the pause Redis last reported
        self._last_reply_at = -math.inf  # local clock: when Redis last answered the script
        self._bad_replies = 0
        self._pending_pause: float | None = None  # local clock: a pause not yet in Redis
        self._pending_sent: float | None = None  # Redis µs: a late send not yet in Redis
        self._offset: float | None = None  # Redis seconds minus local seconds (an upper bound)
        self._granted_at = -math.inf  # local clock: when this process's last grant arrived
        self._granted_server_us = 0
        self._fence = False  # reconnected since the last grant: start with one interval of quiet
        self._failures = 0
        self._outage_since: float | None = None
        self._fallback: RateLimiter | None = None
        self._last_local_grant = -math.inf
        self._next_probe = -math.inf
        self.grants = 0
        """Grants this process received (from Redis or, in an outage, locally)."""
        self.redis_calls = 0
        """Round trips to Redis this process made (grant attempts, pauses, late sends)."""
        self.last_wait = 0.0
        """Seconds the last caller waited in :meth:`acquire`."""

    # -- what it is ---------------------------------------------------------------------------------
    @property
    def key(self) -> str | None:
        """The account's name in Redis (``None`` until a client names it)."""
        return self._key

    @property
    def redis_key(self) -> str:
        """The Redis key holding the schedule: ``<prefix>:{<key>}:rate``."""
        return f"{self._prefix}:{{{self._require_key()}}}:rate"

    @property
    def rate(self) -> float:
        """Calls per second across the fleet (before the safety margin): as given, or what rate
        discovery found, as Redis last said."""
        return self._rate_now

    @property
    def max_rate(self) -> float:
        """The most rate discovery may reach (the rate given, when discovery is off)."""
        return self._shape.max_rate

    @property
    def burst(self) -> int:
        """How many calls may go back to back after a quiet spell."""
        return self._shape.burst

    @property
    def safety_margin(self) -> float:
        """The least margin: seconds added to each 1-second window of grants."""
        return self._shape.safety_margin

    @property
    def max_safety_margin(self) -> float:
        """The most the learned margin may grow to."""
        return self._shape.max_safety_margin

    @property
    def adaptive(self) -> bool:
        """Whether the margin is learned (``False`` once pinned)."""
        return self._adaptive

    @property
    def margin(self) -> float:
        """The margin in force, as Redis last answered (shared by every process of the account)."""
        return self._margin

    @property
    def interval(self) -> float:
        """Seconds between two grants under saturation, fleet-wide, at the current margin."""
        return (1.0 + self._margin + TIMER_SLACK) / self._rate_now

    def pin_margin(self, seconds: float | None) -> None:
        """Hold this process's margin at ``seconds`` (no learning), or resume learning with ``None``.

        Pin it the same in every process: each grant is spaced by its caller's margin.
        """
        if seconds is None:
            self._adaptive = True
            return
        self._shape.pin_margin(seconds)  # the same checks
        self._adaptive = False
        self._margin = float(seconds)

    @property
    def clock(self) -> Clock:
        """The clock local waits use."""
        return self._clock

    @property
    def waiting(self) -> int:
        """How many callers of this process are queued (in every lane)."""
        return len(self._lanes)

    def waiting_in(self, priority: Priority) -> int:
        """How many callers of this process are queued in the lane of ``priority``."""
        return self._lanes.waiting(lane_of(priority))

    @property
    def outage(self) -> bool:
        """Whether Redis is currently unreachable from this process."""
        return self._outage_since is not None

    @property
    def last_grant_time(self) -> float | None:
        """When Redis granted this process's last call: seconds since the epoch on the Redis
        server's clock (``None`` before the first grant, or after a local fallback grant)."""
        return self._granted_server_us / 1_000_000 if self._granted_server_us else None

    def paused_for(self) -> float:
        """Seconds left in the latest pause this process knows of (its own or another's)."""
        return max(0.0, max(self._paused_until, self._redis_paused_until) - self._clock.now())

    def for_account(self, api_key: str) -> RedisRateLimiter:
        """The limiter of another account (e.g. a reseller's client account) on the same Redis,
        with these settings and a key derived from ``api_key``; the same object for the same key."""
        name = account_key(api_key)
        if name == self._key:
            return self
        found = self._family.get(name)
        if found is None:
            found = RedisRateLimiter(
                self._connector,
                key=name,
                rate=self._shape.rate,
                burst=self.burst,
                safety_margin=self.safety_margin,
                adaptive=self._adaptive,
                max_safety_margin=self.max_safety_margin,
                prefix=self._prefix,
                idle_ttl=self._idle_ttl,
                fallback_rate=self._fallback_rate,
                call_timeout=self._call_timeout,
                max_rate=self._shape.max_rate if self._shape.max_rate != self._shape.rate else None,
                clock=self._clock,
            )
            found._family = self._family
            self._family[name] = found
        return found

    def _require_key(self) -> str:
        if self._key is None:
            raise InvalidRequestError(
                "this RedisRateLimiter has no key: pass key=, or give it to AsyncSmsClient(limiter=...)"
            )
        return self._key

    async def aclose(self) -> None:
        """Close the connection this limiter opened from its URL for the running event loop (shared
        with the limiters of other accounts made by :meth:`for_account`). Optional: a later call
        reconnects. A ``redis.asyncio`` client you passed is yours to close."""
        await self._connector.aclose()

    # -- what the client tells it -------------------------------------------------------------------
    def pause(self, seconds: float) -> None:
        """Hold every caller of this account, in every process, for ``seconds`` from now.

        Takes effect here at once and in the other processes once :meth:`flush` has run (the
        client awaits it right after; the head of the queue also runs it before each grant).
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise InvalidRequestError(f"pause needs a number of seconds, got {seconds!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidRequestError(f"pause needs a non-negative number of seconds, got {seconds!r}")
        until = self._clock.now() + seconds
        self._paused_until = max(self._paused_until, until)
        self._pending_pause = max(self._pending_pause or -math.inf, until)

    def request_sent(self, at: float | None = None) -> None:
        """Note that a granted request actually left at ``at`` (default: now, on this clock).

        A request leaving more than half the margin (at least :data:`MIN_SEND_LAG`) after its
        grant arrived (it waited for a connection) moves the shared schedule: the next grant, in
        any process, is at least one interval after this send (in Redis time, estimated
        conservatively from the last round trip). Smaller lags are the normal way from a grant to
        the socket; the other half of the margin is left for the network's jitter.
        """
        sent = self._clock.now() if at is None else at
        if self._offset is None or sent - self._granted_at <= max(MIN_SEND_LAG, self._margin / 2):
            return
        server_us = (sent + self._offset) * 1_000_000
        self._pending_sent = max(self._pending_sent or -math.inf, server_us)
        self._not_before = max(self._not_before, sent + self.interval)

    async def flush(self) -> None:
        """Push pauses and late sends this process learned to Redis now (best effort: if Redis
        is unreachable they stay pending and the head pushes them before its next grant)."""
        if self._pending_pause is None and self._pending_sent is None and not self._pending_rejected:
            return
        try:
            await self._push_pending()
        except Exception as exc:
            if not _transient(exc):
                raise
            self._failed(exc)

    async def _push_pending(self) -> None:
        pause, self._pending_pause = self._pending_pause, None
        if pause is not None:
            remaining = pause - self._clock.now()
            if remaining > 0:
                try:
                    await self._run("pause", round(remaining * 1_000_000))
                except BaseException:
                    self._pending_pause = max(self._pending_pause or -math.inf, pause)
                    raise
        rejected, self._pending_rejected = self._pending_rejected, 0
        if rejected:
            try:
                await self._run("rejected")
            except BaseException:
                self._pending_rejected += rejected
                raise
        sent, self._pending_sent = self._pending_sent, None
        if sent is not None:
            try:
                await self._run("sent", round(sent))
            except BaseException:
                self._pending_sent = max(self._pending_sent or -math.inf, sent)
                raise

    async def _run(
        self, op: str, arg: int = 0, *, hold: float | None = None, fence: bool = False, lane: int = 1
    ) -> list[int]:
        key = self.redis_key
        us = 1_000_000
        hold_us = round((self.interval if hold is None else hold) * us)
        if self._adaptive:
            floor, most, spread = self.safety_margin, self.max_safety_margin, self._spread
            if self._timing and len(self._latencies) < MIN_LATENCY_SAMPLES:  # as RateLimiter
                spread = COLD_START_MARGIN
        else:
            floor = most = self._margin
            spread = 0.0
        args = [
            op,
            repr(self._shape.rate),
            str(self.burst),
            str(round(floor * us)),
            str(round(most * us)),
            str(round(TIMER_SLACK * us)),
            str(math.ceil(self._idle_ttl * 1000)),
            str(arg),
            str(hold_us),
            "1" if fence else "0",
            self._grace,
            str(round(spread * us)),
            str(round(RELAX_AFTER * us)),
            str(lane),
            str(round(STALE * us)),
            str(LANE_SHARE),
            repr(self._shape.max_rate),
            str(round(PROBE_BLAME * us)),
            str(round(RATE_CEILING_MEMORY * us)),
        ]
        backend = self._connector.backend()
        started = self._clock.now()
        self.redis_calls += 1
        with anyio.fail_after(self._call_timeout):
            reply = await backend.run(key, args)
        if op in ("acquire", "claim") and reply[0] == 0 and reply[2] <= 0:
            raise _BadReply("the limiter script refused a grant without naming a wait")
        self._bad_replies = 0
        self._ops[op, reply[0]] = self._ops.get((op, reply[0]), 0) + 1
        # the server read its clock after we sent: server - local <= reply - started
        self._offset = reply[1] / 1_000_000 - started
        self._margin = reply[5] / 1_000_000
        self._rate_now = reply[6] / 1000
        self._last_reply_at = now = self._clock.now()
        self._redis_paused_until = now + reply[3] / 1_000_000  # the latest word on it replaces any older
        if self._outage_since is not None:
            log.info(
                "shared limiter %s: Redis reachable again after %.1f s",
                self.redis_key,
                self._clock.now() - self._outage_since,
            )
        self._failures = 0
        self._outage_since = None
        return reply

    def _failed(self, exc: BaseException) -> float:
        """Note a Redis failure; returns the backoff before the next attempt."""
        now = self._clock.now()
        self._fence = True
        self._failures += 1
        if self._outage_since is None:
            self._outage_since = now
            policy = "holding calls" if self._fallback_rate is None else "granting locally"
            log.warning(
                "shared limiter %s: Redis unreachable (%s); %s until it answers",
                self.redis_key,
                type(exc).__name__,
                policy,
            )
        step = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** (self._failures - 1))
        return step / 2 + self._rng.uniform(0, step / 2)

    def _learn(self, sent_at: float | None, rejected: bool) -> None:
        if not self._adaptive:
            return
        if rejected:
            self._pending_rejected += 1  # pushed by the next flush (the client flushes after 429s)
        if sent_at is None:
            return
        now = self._clock.now()
        latencies = self._latencies
        latencies.add(sent_at, now - sent_at)  # a 429's latency counts too, as in RateLimiter
        if len(latencies) >= MIN_LATENCY_SAMPLES:  # the same estimate as RateLimiter's
            self._spread = latencies.spread(now - 1.0 - self.max_safety_margin)

    # -- waiting ------------------------------------------------------------------------------------
    async def reserve(
        self, priority: Priority = "default", *, max_wait: float | None = None
    ) -> SharedReservation:
        """Wait for permission to make one call whose departure the caller will report (the
        client does: late sends then move the shared schedule, 429s widen the shared margin).
        ``priority`` and ``max_wait`` as for :meth:`acquire`."""
        if priority == "default" and max_wait is None:
            await self.acquire()  # a subclass's acquire() may take no arguments
        else:
            await self.acquire(priority, max_wait=max_wait)
        return SharedReservation(self)

    async def acquire(self, priority: Priority = "default", *, max_wait: float | None = None) -> None:
        """Wait for permission to make one call.

        ``priority`` (``"interactive"``, ``"default"``, ``"bulk"``) and ``max_wait`` as for
        :meth:`RateLimiter.acquire <smsapi_async.RateLimiter.acquire>`: the lanes hold in this
        process and across the fleet. A caller with ``max_wait`` fails at once with
        :class:`~smsapi_async.QueueTimeoutError` when this process's queue or the fleet's (as Redis
        estimates it) makes a grant in time impossible, else at the deadline.

        Cancelling a waiting caller leaks nothing: its place passes to the next in line (a slot
        already reserved at Redis is simply not used).
        """
        self._require_key()
        lane = lane_of(priority)
        lanes = self._lanes
        started = self._clock.now()
        deadline = None
        if max_wait is not None:
            if isinstance(max_wait, bool) or not isinstance(max_wait, (int, float)) or not max_wait >= 0:
                raise InvalidRequestError(f"max_wait must be a number of seconds >= 0, got {max_wait!r}")
            deadline = started + float(max_wait)
            ahead = lanes.ahead_of(lane)
            if max(started + ahead * self.interval, started + self.paused_for()) > deadline:
                raise QueueTimeoutError(
                    f"not sent: no place in the account's rate within {max_wait:g} s ({ahead} call(s) "
                    f"are queued ahead of it in this process at {self.rate:g}/s, or the account is paused)"
                )
        ticket = lanes.enter(lane)
        granted = False
        try:
            while True:
                while (event := lanes.gate(lane, ticket)) is not None:
                    if deadline is None:
                        await event.wait()  # set when this waiter becomes (or nears) the head
                    else:
                        await wait_for(event, deadline, self._clock)
                if await self._take(lane, deadline):
                    break
            lanes.check(lane, ticket)  # its event loop stopped and another took the limiter over
            self.grants += 1
            self.last_wait = self._clock.now() - started
            granted = True
        finally:
            lanes.leave(lane, ticket, granted=granted)

    def _forget_head(self) -> None:
        """The queued callers' event loop is gone: so is its head's wait."""
        self._head_sleep = None

    def _wake_head(self) -> None:
        """Another lane's turn: the head stops waiting for its slot and looks again."""
        scope, self._head_sleep = self._head_sleep, None
        if scope is not None:
            scope.cancel()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep as the head; ``False`` if cut short because another lane's turn came."""
        with anyio.CancelScope() as scope:
            self._head_sleep = scope
            await self._clock.sleep(seconds)
        self._head_sleep = None
        return not scope.cancelled_caught

    async def _take(self, lane: int, deadline: float | None) -> bool:
        """The head's loop: reserve the next slot of its lane at Redis, sleep until it, claim it.
        ``False`` if another lane's turn came meanwhile (its slot goes unused)."""
        op = "acquire"
        number = 0
        while True:
            now = self._clock.now()
            # a pause Redis reported is waited out in steps of RECHECK, asking again after each
            redis_pause = min(self._redis_paused_until, self._last_reply_at + RECHECK)
            ready = max(self._not_before, self._paused_until, redis_pause)
            if deadline is not None and ready > deadline:
                raise past_deadline()
            if now < ready:
                if not await self._sleep(ready - now):
                    return False
                continue
            if self._fallback is not None and now < self._next_probe:
                await self._grant_locally(lane, deadline)
                return True
            try:
                await self._push_pending()
                if op == "acquire":
                    hold = self.interval
                    if self._fallback is not None:  # back from local grants: one window of quiet
                        hold = max(hold, self._last_local_grant + WINDOW + self.safety_margin - now)
                    reply = await self._run("acquire", hold=hold, fence=self._fence, lane=lane)
                    self._fence = False
                    self._fallback = None
                else:
                    reply = await self._run("claim", number, lane=lane)
            except Exception as exc:
                if not _transient(exc):
                    raise RedisLimiterError(f"shared limiter: Redis refused the script: {exc}") from exc
                if isinstance(exc, _BadReply):
                    self._bad_replies += 1
                    if self._bad_replies >= MAX_BAD_REPLIES:
                        self._bad_replies = 0
                        raise RedisLimiterError(
                            f"shared limiter: {MAX_BAD_REPLIES} malformed replies in a row from Redis ({exc})"
                        ) from None
                op = "acquire"  # a reservation made before the outage may be gone with Redis
                delay = self._failed(exc)
                if self._fallback_rate is None:
                    self._not_before = self._clock.now() + delay
                    continue
                if self._fallback is None:
                    self._fallback = RateLimiter(self._fallback_rate, clock=self._clock)
                self._next_probe = self._clock.now() + delay
                await self._grant_locally(lane, deadline)
                return True
            arrived = self._clock.now()
            if reply[0] == 1:
                self._granted_at = arrived
                self._granted_server_us = reply[1]
                return True
            op, number = "claim", reply[4]  # our slot; cancelled before it comes, it goes unused
            if deadline is not None and arrived + reply[2] / 1_000_000 > deadline:
                raise past_deadline()  # the fleet's queue ahead of it makes it certain
            self._not_before = arrived + min(reply[2] / 1_000_000, RECHECK)

    async def _grant_locally(self, lane: int, deadline: float | None) -> None:
        assert self._fallback is not None
        max_wait = None if deadline is None else max(0.0, deadline - self._clock.now())
        await self._fallback.acquire(PRIORITIES[lane], max_wait=max_wait)
        self._granted_server_us = 0
        self._last_local_grant = self._clock.now()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self._connector!r}, key={self._key!r}, rate={self.rate:g}, "
            f"burst={self.burst}, waiting={len(self._lanes)}, paused_for={self.paused_for():.3f}, "
            f"outage={self.outage})"
        )
