"""The client: one request path (build → limit → send → parse → map errors) for every API call."""

from __future__ import annotations

import base64
import contextlib
import contextvars
import copy
import enum
import inspect
import ipaddress
import itertools
import logging
import math
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import anyio
import httpx

from ._body import ACCEPT_ENCODING, DEFAULT_MAX_RESPONSE_SIZE, BodyError, read_body
from ._clock import Clock, SystemClock
from ._echo import blank_echoes, private_values
from ._encoding import check_call_name, encode_params, is_safe_to_retry
from ._exceptions import (
    ApiError,
    InvalidRequestError,
    NetworkError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    ResponseParseError,
    SmsApiError,
)
from ._lanes import Priority, lane_of
from ._limiter import Limiter, RateLimiter, Reservation
from ._parsing import parse_body, raise_for_error
from ._retry import backoff_delay, parse_retry_after
from ._signature import DEFAULT_URL_TTL
from ._validate import is_unicode, optional_flag, whole_number
from ._version import __version__
from ._wire import close_if_overfull, forget_cookies, refusing_cookies

if TYPE_CHECKING:
    # loaded on first use (the resource properties, callback_url, callback_hub, event hooks), so
    # that constructing a client costs little more than importing httpx
    from ._events import ClientEvent, EventHook
    from .resources.account import AccountResource
    from .resources.email import EmailResource
    from .resources.keywords import KeywordsResource
    from .resources.lists import ListsResource
    from .resources.numbers import NumbersResource
    from .resources.resellers import ResellersResource
    from .resources.sms import SmsResource
    from .webhooks._hub import CallbackHub

__all__ = ["DEFAULT_BASE_URL", "AsyncSmsClient"]

DEFAULT_BASE_URL = "https://api.transmitsms.com"
_RESOURCES = ("sms", "account", "lists", "numbers", "keywords", "email", "resellers")
ENV_API_KEY = "SMSAPI_API_KEY"
ENV_API_SECRET = "SMSAPI_API_SECRET"
ENV_BASE_URL = "SMSAPI_BASE_URL"

log = logging.getLogger("smsapi_async")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise InvalidRequestError(f"base_url must be a string, got {type(base_url).__name__}")
    try:
        url = httpx.URL(base_url)
        host = url.host
    except (httpx.InvalidURL, UnicodeError, ValueError):  # e.g. a host IDNA cannot encode
        raise InvalidRequestError("base_url is not a valid URL") from None
    if not _valid_host(url.raw_host.decode("ascii", "replace")):
        raise InvalidRequestError("base_url has no valid host name")
    if url.userinfo:
        # they would sit in the client's repr and in httpx's log lines; the API takes the
        # credentials as api_key and api_secret
        raise InvalidRequestError(
            "base_url must not hold credentials (user:password@); pass api_key/api_secret"
        )
    if url.query or url.fragment:
        raise InvalidRequestError("base_url must not have a query or fragment")
    if url.scheme == "https" and host:
        return str(url).rstrip("/")
    if url.scheme == "http" and _is_loopback(host):
        return str(url).rstrip("/")
    raise InvalidRequestError(
        f"base_url must be https:// (plain http:// is allowed only for a loopback sandbox); "
        f"got {url.scheme}://{host}"
    )


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _valid_host(host: str) -> bool:
    """A DNS name (IDNA already applied) or an IP address."""
    if _is_loopback(host) or host.startswith("["):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return 0 < len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.rstrip(".").split("."))
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _credential(value: str | None, env: str, what: str) -> str:
    value = os.environ.get(env) if value is None else value
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"an API {what} is required: pass it to AsyncSmsClient or set ${env}")
    if not is_unicode(value):  # httpx sends Basic auth as UTF-8
        raise InvalidRequestError(f"the API {what} is not valid Unicode text")
    return value


def _check_max_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError(f"max_retries must be an integer >= 0, got {value!r}")
    return value


def _check_max_retry_wait(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidRequestError(f"max_retry_wait must be >= 0 seconds, got {value!r}")
    return float(value)


def _takes_lanes(limiter: object) -> bool:
    """Whether ``limiter.acquire`` (and ``reserve``, if it has one) take ``priority`` and ``max_wait``."""
    if limiter is None:
        return False
    for name in ("acquire", "reserve"):
        method = getattr(limiter, name, None)
        if method is None:
            continue
        try:
            parameters = inspect.signature(method).parameters
        except (TypeError, ValueError):
            return False
        if "priority" not in parameters or "max_wait" not in parameters:
            return False
    return True


def _check_limiter(limiter: object) -> None:
    # a 429 must be able to quiet every caller of the account, so a limiter without pause() would
    # only fail on the first 429, far from here
    missing = [name for name in ("acquire", "pause") if not callable(getattr(limiter, name, None))]
    if missing:
        raise InvalidRequestError(
            f"limiter= needs async acquire() and pause(seconds) methods; {limiter!r} has no "
            f"{' or '.join(missing)}. Use smsapi_async.RateLimiter (it also tracks when requests "
            "really leave), or wrap your limiter in a class that adds them."
        )


def total_seconds(timeout: object) -> float | None:
    """The seconds a whole exchange may take for a ``timeout=`` value (``None``: no limit).

    Raises:
        InvalidRequestError: not a positive number of seconds or an ``httpx.Timeout``.
    """
    if isinstance(timeout, httpx.Timeout):
        phases = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t is not None]
        for phase in phases:
            total_seconds(phase)
        return max(phases) if phases else None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 10**7:
        raise InvalidRequestError(
            f"timeout must be seconds > 0 or an httpx.Timeout, got {type(timeout).__name__}"
        )
    return float(timeout)


def _mask(key: str) -> str:
    return "…" + key[-4:] if len(key) > 8 else "…"


class _Unset(enum.Enum):
    """An argument not given (where ``None`` means something)."""

    VALUE = enum.auto()


class _Inherit(enum.Enum):
    """Marker default of :meth:`AsyncSmsClient.with_credentials`: copy this client's limiter."""

    LIMITER = "inherit"


class AsyncSmsClient:
    """Async client for the Transmit SMS REST API.

    Args:
        api_key: the account's API key; default ``$SMSAPI_API_KEY``.
        api_secret: the account's API secret; default ``$SMSAPI_API_SECRET``.
        base_url: API root: this argument, else ``$SMSAPI_BASE_URL`` (e.g. a running sandbox's
            address), else the real API. ``https://`` only, except a loopback host (the sandbox).
        response_format: ``"json"`` (default) or ``"xml"``; both give the same results.
        rate_limit: calls per second for this client's own :class:`RateLimiter` (default 2,
            the API's default; raised accounts allow 15). ``None`` disables limiting.
        limiter: any object with ``acquire()`` and ``pause()`` (e.g. one limiter shared by
            several clients of the same account); overrides ``rate_limit``.
        max_retries: how many times one call may be resent (``0``: never). Rate-limited calls
            (HTTP 429 / ``OVER_LIMIT``) were dropped by the server and are always safe to
            resend; timeouts and 5xx are resent only for calls that read.
        max_retry_wait: cap on the seconds one call may spend waiting between attempts.
        timeout: seconds one exchange may take in all, from the first byte sent to the last byte
            read, however slowly the server drips its answer (an ``httpx.Timeout`` also sets its
            phases; the whole exchange then gets the longest of them).
        max_response_size: bytes an answer may have, on the wire and once decompressed (default
            4 MiB); a larger one is refused while it streams in.
        http_client: an ``httpx.AsyncClient`` you own (you close it); its settings are used.
        transport: an ``httpx.AsyncBaseTransport`` for the client's own ``httpx.AsyncClient``.

    Every request of one client, from all its resources and coroutines, passes through its one
    limiter. Use ``async with AsyncSmsClient(...) as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        response_format: Literal["json", "xml"] = "json",
        rate_limit: float | None = 2.0,
        limiter: Limiter | None = None,
        max_retries: int = 4,
        max_retry_wait: float = 60.0,
        timeout: float | httpx.Timeout = 30.0,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: Sequence[EventHook] = (),
    ) -> None:
        key = _credential(api_key, ENV_API_KEY, "key")
        secret = _credential(api_secret, ENV_API_SECRET, "secret")
        if response_format not in ("json", "xml"):
            raise InvalidRequestError(f"response_format must be 'json' or 'xml', got {response_format!r}")
        if http_client is not None and transport is not None:
            raise InvalidRequestError("pass either http_client or transport, not both")
        if base_url is None and os.environ.get(ENV_BASE_URL):
            try:
                self._base_url = _check_base_url(os.environ[ENV_BASE_URL])
            except InvalidRequestError as exc:  # say where the value came from
                raise InvalidRequestError(f"${ENV_BASE_URL}: {exc}") from None
        else:
            self._base_url = _check_base_url(DEFAULT_BASE_URL if base_url is None else base_url)
        self._format = response_format
        self._key_hint = _mask(key)
        self._auth = httpx.BasicAuth(key, secret)
        # how the secret may come back in an echoing error page: as itself, or inside the Basic header
        self._credential_forms = (secret, base64.b64encode(f"{key}:{secret}".encode()).decode())
        self._secret = _Hidden(secret)  # signs callback URLs and checks callback signatures
        self._callback_hub: list[CallbackHub] = []  # made on first use; shared by with_options copies
        if limiter is None and rate_limit is not None:
            limiter = RateLimiter(rate_limit)
        elif limiter is not None:
            _check_limiter(limiter)
        if limiter is not None and getattr(limiter, "key", "") is None and hasattr(limiter, "for_account"):
            limiter = limiter.for_account(key)  # a shared limiter not yet named: this account's
        self._limiter = limiter
        self._clock: Clock = getattr(limiter, "clock", None) or SystemClock()
        reserve = getattr(limiter, "reserve", None)
        self._reserve: Callable[..., Awaitable[Reservation]] | None = reserve if callable(reserve) else None
        # priority lanes and queue deadlines, for limiters that take them (RateLimiter, RedisRateLimiter)
        self._lanes_ok = _takes_lanes(limiter)
        self._priority: Priority = "default"
        self._max_queue_wait: float | None = None
        paused_for = getattr(limiter, "paused_for", None)
        self._paused_for: Callable[[], float] | None = paused_for if callable(paused_for) else None
        on_sent = getattr(limiter, "request_sent", None)
        self._on_sent: Callable[[], None] | None = on_sent if callable(on_sent) else None
        # a shared limiter (RedisRateLimiter) pushes pauses and late sends to the other processes
        flush = getattr(limiter, "flush", None)
        self._flush_limiter: Callable[[], Awaitable[None]] | None = flush if callable(flush) else None
        self._max_retries = _check_max_retries(max_retries)
        self._max_retry_wait = _check_max_retry_wait(max_retry_wait)
        self._timeout: float | httpx.Timeout | None = None  # None: the HTTP client's own
        total_seconds(timeout)  # checked here, though the HTTP client below is given it
        self._max_response_size = whole_number("max_response_size", max_response_size, 1024, 2**40)
        self._rng = random.Random()
        self._owns_http = http_client is None
        self._headers = {
            "User-Agent": f"smsapi-async/{__version__} httpx/{httpx.__version__}",
            "Accept": "text/xml" if response_format == "xml" else "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,  # decoded by _body.read_body, within the size limit
            "Content-Type": "application/x-www-form-urlencoded",  # also on empty bodies
        }
        # on an HTTP client of our own they are its defaults, merged into each request for free;
        # one passed in (maybe shared with other code) gets them with each request instead
        self._request_headers = None if http_client is None else self._headers
        self._connections = _Connections(http_client, transport, timeout, self._headers)
        self._deadline_of: object = None  # the timeout _deadline_seconds was worked out from
        self._deadline_seconds: float | None = None
        self._targets: dict[str, tuple[httpx.URL, bool]] = {}  # call name -> (URL, reads only)
        self._hooks: list[EventHook] = []
        for hook in event_hooks:
            self.add_event_hook(hook)
        self._bind()

    def add_event_hook(self, hook: EventHook) -> None:
        """Call ``hook(event)`` for everything this client (and its copies) does: calls started and
        finished, requests sent, responses, 429s, limiter pauses, retries, unknown outcomes.

        Events carry call names, attempt numbers, status and error codes and timings, never
        parameters or credentials (see :mod:`smsapi_async.events`). Hooks run inline: keep them
        quick; an exception in one is logged and the call goes on.
        """
        if not callable(hook):
            raise InvalidRequestError(f"an event hook must be callable, got {hook!r}")
        self._hooks.append(hook)

    def _bind(self) -> None:
        """Resources and per-request options, which refer to this object (copies bind again)."""
        tracing = self._reserve is not None or self._on_sent is not None
        self._trace_extension: dict[str, Any] = {"trace": self._trace} if tracing else {}
        self._extensions: dict[str, Any] = {}  # per request: the trace hook and the timeout
        self._deadline_of = None  # both worked out again (see _deadline) for this object
        for name in _RESOURCES:  # made on first use, for this object (a copy must not use the original's)
            self.__dict__.pop(name, None)

    # Each resource module (and the models it returns) is imported the first time its property is
    # read; the instance is then cached in the object's __dict__, so later reads are plain lookups.

    @cached_property
    def sms(self) -> SmsResource:
        """Send, schedule, cancel and track messages; replies, reports and statistics."""
        from .resources.sms import SmsResource  # noqa: PLC0415 (loaded on first use)

        return SmsResource(self)

    @cached_property
    def account(self) -> AccountResource:
        """The account's balance."""
        from .resources.account import AccountResource  # noqa: PLC0415 (loaded on first use)

        return AccountResource(self)

    @cached_property
    def lists(self) -> ListsResource:
        """Contact lists and their members."""
        from .resources.lists import ListsResource  # noqa: PLC0415 (loaded on first use)

        return ListsResource(self)

    @cached_property
    def numbers(self) -> NumbersResource:
        """Virtual numbers and sender ids."""
        from .resources.numbers import NumbersResource  # noqa: PLC0415 (loaded on first use)

        return NumbersResource(self)

    @cached_property
    def keywords(self) -> KeywordsResource:
        """Keywords on virtual numbers."""
        from .resources.keywords import KeywordsResource  # noqa: PLC0415 (loaded on first use)

        return KeywordsResource(self)

    @cached_property
    def email(self) -> EmailResource:
        """Email-to-SMS senders."""
        from .resources.email import EmailResource  # noqa: PLC0415 (loaded on first use)

        return EmailResource(self)

    @cached_property
    def resellers(self) -> ResellersResource:
        """A reseller's client accounts and transactions."""
        from .resources.resellers import ResellersResource  # noqa: PLC0415 (loaded on first use)

        return ResellersResource(self)

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        timeout: float | httpx.Timeout | None = None,
        priority: Priority | None = None,
        max_queue_wait: float | _Unset | None = _Unset.VALUE,
    ) -> AsyncSmsClient:
        """This client with other retry, timeout or queueing settings, for some calls::

            await client.with_options(max_retries=0, timeout=5).sms.send(...)

            otp = client.with_options(priority="interactive", max_queue_wait=2.0)
            try:
                await otp.sms.send(message=f"Your code is {code}", to=user.mobile)
            except QueueTimeoutError:       # not sent: the account's rate is busy
                await send_by_email(user, code)

        Args:
            priority: the lane its calls queue in at the limiter: ``"interactive"`` (a person is
                waiting), ``"default"`` or ``"bulk"``. The next grant goes to the highest lane with
                a caller waiting; a lower lane still gets one grant in 10 (see
                :meth:`RateLimiter.acquire <smsapi_async.RateLimiter.acquire>`).
                :meth:`~smsapi_async.resources.sms.SmsResource.send_bulk` runs in ``"bulk"``.
            max_queue_wait: the most seconds a call may wait for its place in the account's rate
                (``None``: no limit, the default). A call that cannot be granted in time fails with
                :class:`QueueTimeoutError` and **nothing is sent**: at once when the queue ahead
                makes it certain, else at the deadline. It counts from the call's start, over its
                retries after a 429.

        The copy is the same account: it shares this client's limiter (so the rate limit still
        holds across both) and its connections (so use it while this client is open; closing
        the copy closes nothing).

        Raises:
            InvalidRequestError: a bad value, or ``priority``/``max_queue_wait`` with a limiter
                that does not take them (a custom one).
        """
        clone = copy.copy(self)
        clone._owns_http = False
        if priority is not None:
            lane_of(priority)  # checked
            clone._priority = priority
        if max_queue_wait is not _Unset.VALUE:
            if max_queue_wait is not None and (
                isinstance(max_queue_wait, bool)
                or not isinstance(max_queue_wait, (int, float))
                or not 0 <= max_queue_wait < math.inf
            ):
                raise InvalidRequestError(
                    f"max_queue_wait must be a number of seconds >= 0 or None, got {max_queue_wait!r}"
                )
            clone._max_queue_wait = None if max_queue_wait is None else float(max_queue_wait)
        queueing = clone._priority != "default" or clone._max_queue_wait is not None
        if queueing and self._limiter is not None and not self._lanes_ok:  # no limiter: nothing queues
            raise InvalidRequestError(
                f"this client's limiter {self._limiter!r} takes no priority or max_queue_wait "
                "(RateLimiter and RedisRateLimiter do)"
            )
        if max_retries is not None:
            clone._max_retries = _check_max_retries(max_retries)
        if max_retry_wait is not None:
            clone._max_retry_wait = _check_max_retry_wait(max_retry_wait)
        if timeout is not None:
            total_seconds(timeout)
            clone._timeout = timeout
        clone._bind()
        return clone

    def with_credentials(
        self, api_key: str, api_secret: str, *, limiter: Limiter | _Inherit | None = _Inherit.LIMITER
    ) -> AsyncSmsClient:
        """A client for another account (e.g. a reseller's client) with this client's options.

        It keeps this client's base URL, response format and retry settings and shares its HTTP
        connections (credentials travel with each request), so it works while this client is open
        and closing it closes nothing. It gets its **own** limiter, because the API counts calls
        per account: by default a new :class:`RateLimiter` with this one's rate, burst, margin and
        clock (none if this client has none). A custom limiter cannot be copied, so then pass
        ``limiter=`` (a limiter, or ``None`` for no limiting).
        """
        for_account = getattr(self._limiter, "for_account", None)
        if limiter is _Inherit.LIMITER and callable(for_account):
            limiter = for_account(api_key)  # a shared limiter: the same store, this account's key
        if limiter is _Inherit.LIMITER:
            own = self._limiter
            if own is not None and not isinstance(own, RateLimiter):
                raise InvalidRequestError(
                    f"this client's limiter {own!r} cannot be copied for another account; pass limiter="
                )
            limiter = (
                None
                if own is None
                else RateLimiter(
                    own.rate,
                    own.burst,
                    safety_margin=own.safety_margin,
                    adaptive=own.adaptive,
                    max_safety_margin=own.max_safety_margin,
                    clock=own.clock,
                )
            )
        return AsyncSmsClient(
            api_key,
            api_secret,
            base_url=self._base_url,
            response_format=self._format,
            rate_limit=None,
            limiter=limiter,
            max_retries=self._max_retries,
            max_retry_wait=self._max_retry_wait,
            http_client=self._http,
            event_hooks=self._hooks,
        )

    def callback_url(self, base: str, *, ttl: float | timedelta = DEFAULT_URL_TTL) -> str:
        """``base`` with an expiring token that :class:`~smsapi_async.webhooks.CallbackReceiver`
        (or :func:`~smsapi_async.webhooks.verify_callback_url`) checks, for ``dlr_callback``,
        ``reply_callback`` and the other callback URLs::

            url = client.callback_url("https://shop.example.com/sms-hooks?shop=7", ttl=timedelta(days=5))
            await client.sms.send(message="Hi", to=["61400000001"], dlr_callback=url)

        The token is an HMAC keyed from this account's API secret over the URL's parameters and
        the expiry (``ttl`` seconds or a ``timedelta`` from now); choose a ``ttl`` longer than the
        message's validity plus a day of the platform's retries. The secret itself is not in the URL.
        """
        from .webhooks._verify import sign_callback_url  # noqa: PLC0415 (loaded on first use)

        return sign_callback_url(base, self._secret.value, ttl=ttl)

    @property
    def callback_hub(self) -> CallbackHub:
        """Where a :class:`~smsapi_async.webhooks.CallbackReceiver` built with ``client=this``
        publishes the events it accepts, for :meth:`sms.wait_for_delivery` and
        :meth:`sms.reply_stream` (copies made by :meth:`with_options` share it)."""
        if not self._callback_hub:
            from .webhooks._hub import CallbackHub  # noqa: PLC0415 (loaded on first use)

            self._callback_hub.append(CallbackHub())
        return self._callback_hub[0]

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._base_url

    @property
    def response_format(self) -> str:
        """``"json"`` or ``"xml"``."""
        return self._format

    @property
    def limiter(self) -> Limiter | None:
        """The limiter every request of this client passes through (``None``: unlimited)."""
        return self._limiter

    async def call(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        /,
        *,
        safe_to_retry: bool | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Make one API call by name and return its response fields.

        Args:
            name: the call, e.g. ``"get-balance"`` or ``"send-sms"``.
            params: fields as a mapping (use this for names that are Python keywords, ``from``).
            safe_to_retry: whether resending after a timeout or 5xx can do no harm. ``None``
                (default) decides by name: ``get-*`` and ``format-*`` calls only read.
            **fields: more fields. ``None`` values are not sent; booleans become
                ``true``/``false``, iterables are comma-joined, datetimes are sent as UTC.

        Returns:
            The response as a dict (the ``error`` block removed), the same for JSON and XML
            except that XML gives every scalar as text.

        Raises:
            InvalidRequestError: bad name or field values; nothing was sent.
            ApiError: the API answered with an error code (subclass by code).
            OutcomeUnknownError: a state-changing call may or may not have happened.
            TransportError: no usable answer after every allowed retry.
            ResponseParseError: the answer was not a response we understand.
        """
        target = self._targets.get(name) if type(name) is str else None
        if target is None:
            target = self._target(name)
        url, reads_only = target
        if params is not None and not isinstance(params, Mapping):
            raise InvalidRequestError(f"params must be a mapping, got {type(params).__name__}")
        optional_flag("safe_to_retry", safe_to_retry)
        merged = {**params, **fields} if params else fields
        form = encode_params(merged)
        safe = reads_only if safe_to_retry is None else bool(safe_to_retry)
        if not self._hooks:
            return await self._request(name, url, form, safe)
        return await self._observed(name, url, form, safe)

    def _target(self, name: str) -> tuple[httpx.URL, bool]:
        """The URL of call ``name`` and whether it only reads; kept for the next calls by that
        name (parsing a URL costs a tenth of a call), for up to ``_MAX_TARGETS`` names."""
        check_call_name(name)
        target = (httpx.URL(f"{self._base_url}/{name}.{self._format}"), is_safe_to_retry(name))
        if type(name) is str and len(self._targets) < _MAX_TARGETS:
            self._targets[name] = target
        return target

    async def _observed(self, name: str, url: httpx.URL, form: dict[str, str], safe: bool) -> dict[str, Any]:
        from ._events import CallFinished, CallStarted, emit  # noqa: PLC0415 (loaded once a client has hooks)

        observed = _Observed(self._hooks, next(_CALL_IDS), name)
        token = _OBSERVED.set(observed)
        emit(self._hooks, CallStarted(observed.call_id, name))
        started = time.perf_counter()
        error: str | None = None
        try:
            return await self._request(name, url, form, safe)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            _OBSERVED.reset(token)
            duration = time.perf_counter() - started
            emit(self._hooks, CallFinished(observed.call_id, name, observed.attempt, duration, error))

    async def _request(self, name: str, url: httpx.URL, form: dict[str, str], safe: bool) -> dict[str, Any]:
        self._connections.open()  # made (by a first call) before the limiter grants it a place
        retries = 0
        waited = 0.0
        queue_until = None if self._max_queue_wait is None else self._clock.now() + self._max_queue_wait
        while True:
            reservation: Reservation | None = None
            queued_from = time.perf_counter()
            if self._limiter is not None:
                if self._paused_for is not None and (paused := self._paused_for()) > 0:
                    waited += self._check_pause(name, waited, paused)
                if not self._lanes_ok:
                    if self._reserve is not None:
                        reservation = await self._reserve()
                    else:
                        await self._limiter.acquire()
                else:
                    max_wait = None if queue_until is None else max(0.0, queue_until - self._clock.now())
                    if self._reserve is not None:
                        reservation = await self._reserve(self._priority, max_wait=max_wait)
                    else:
                        await self._limiter.acquire(self._priority, max_wait=max_wait)  # type: ignore[call-arg]
            if log.isEnabledFor(logging.DEBUG):  # the join costs even when the line is dropped
                log.debug("%s: sending (attempt %d, fields: %s)", name, retries + 1, ", ".join(form))
            _emit("RequestSent", time.perf_counter() - queued_from, attempt="next")
            # the trace hook reads the reservation from here; without one there is nothing to set
            sending = None if reservation is None else _SENDING.set(reservation)
            try:
                result = await self._attempt(name, url, form, safe)
            except _Retryable as retry:
                delay, error = retry.delay, retry.error
                cause = retry.__cause__ if retry.__cause__ is not error else None
                if reservation is not None:
                    _report(reservation, error, cause)
            else:
                if reservation is not None:
                    reservation.answered()
                return result
            finally:
                if sending is not None:
                    _SENDING.reset(sending)
                if reservation is not None:
                    reservation.close()  # anything unreported (errors, cancellation) counts as sent
            hint = delay  # the server's Retry-After, if it gave one
            if delay is None:
                delay = backoff_delay(retries + 1, self._rng)
            if isinstance(error, RateLimitError):
                _emit("RateLimited", hint)
            rate_limited = isinstance(error, RateLimitError) and self._limiter is not None
            if rate_limited:
                # the server asked the whole account to be quiet, whether or not this caller retries
                self._limiter.pause(delay)  # type: ignore[union-attr]
                _emit("LimiterPaused", delay, attempt=None)
                if self._flush_limiter is not None:  # a shared limiter tells the other processes
                    await self._flush_limiter()
            if retries >= self._max_retries or waited + delay > self._max_retry_wait:
                log.info("%s: giving up after %d attempt(s): %s", name, retries + 1, error)
                raise error from cause
            retries += 1
            _emit("RetryScheduled", delay, type(error).__name__)
            if rate_limited:
                # the pause is counted against max_retry_wait by _check_pause before the resend
                log.info(
                    "%s: rate limited; pausing the limiter %.2f s (retry %d of %d)",
                    name,
                    delay,
                    retries,
                    self._max_retries,
                )
            else:
                waited += delay
                log.info(
                    "%s: %s; retrying in %.2f s (retry %d of %d)",
                    name,
                    error,
                    delay,
                    retries,
                    self._max_retries,
                )
                await self._clock.sleep(delay)

    def _check_pause(self, name: str, waited: float, paused: float) -> float:
        """Seconds this call will wait out the limiter's pause of ``paused`` seconds; fail fast if
        beyond its budget."""
        if waited + paused > self._max_retry_wait:
            log.info("%s: not sent: the limiter is paused %.2f s, beyond max_retry_wait", name, paused)
            raise RateLimitError(
                "OVER_LIMIT",
                f"not sent: the server rate-limited this account and every call is paused for "
                f"{paused:.1f} s more, beyond this call's max_retry_wait ({self._max_retry_wait:g} s)",
                None,
                name,
            )
        return float(paused)

    async def _attempt(self, name: str, url: httpx.URL, form: dict[str, str], safe: bool) -> dict[str, Any]:
        started = time.perf_counter()
        failure: Exception | None = None
        try:
            status, headers, body = await self._exchange(url, form)
        except AssertionError:  # a test double's "not mocked": a failing test, not a network error
            raise
        except Exception as exc:
            failure = self._transport_failure(name, safe, exc)
        if failure is not None:
            # raised outside the except block, so that no httpx error (whose request holds the
            # Authorization header and the form, the message text) is chained as cause or context
            raise failure

        elapsed = time.perf_counter() - started
        log.debug("%s: HTTP %d, %d bytes in %.1f ms", name, status, len(body), elapsed * 1000)
        try:
            data = parse_body(body, self._format, status_code=status, call=name)
            raise_for_error(data, status_code=status, call=name)
        except (ApiError, ResponseParseError) as exc:
            blank_echoes(exc, private_values(form, self._credential_forms), status)
            _responded(status, getattr(exc, "code", None), elapsed)
            self._fail(name, safe, status, headers, exc)
        _responded(status, None, elapsed)
        if not 200 <= status < 300:
            self._contradiction(name, safe, status, headers)
        data.pop("error", None)
        return data

    def _transport_failure(self, name: str, safe: bool, exc: Exception) -> Exception:
        """What to raise when no answer could be read: a retry where that is safe, else the error."""
        if isinstance(exc, _NOT_SENT):
            error_cls = RequestTimeoutError if isinstance(exc, httpx.TimeoutException) else NetworkError
            return _Retryable(
                error_cls(
                    f"{name}: request not sent: no connection to {self._base_url} ({type(exc).__name__})",
                    call=name,
                )
            )
        if isinstance(exc, BodyError):
            what = f"its answer could not be read ({exc})"
            return self._unknown(name, safe, what) or ResponseParseError(
                str(exc), status_code=None, excerpt="", call=name
            )
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            what = f"timed out ({type(exc).__name__})"
            return self._unknown(name, safe, what) or _Retryable(
                RequestTimeoutError(f"{name}: {what}", call=name)
            )
        # httpx's other errors, or a bug in a custom transport
        what = f"connection failed ({type(exc).__name__})"
        return self._unknown(name, safe, what) or _Retryable(NetworkError(f"{name}: {what}", call=name))

    def _fail(
        self, name: str, safe: bool, status: int, headers: httpx.Headers, exc: ApiError | ResponseParseError
    ) -> NoReturn:
        """Raise what an error answer means: a retry (rate limit; 5xx on a read), or the error.

        An unreadable body under a 2xx or 5xx status leaves a call that changes state unknown; under
        a 3xx or 4xx the server (or a proxy) refused the request, so it is a plain parse error.
        """
        retry_after = parse_retry_after(headers.get("Retry-After"))
        rate_limited = isinstance(exc, RateLimitError) or (
            isinstance(exc, ResponseParseError) and status == 429
        )
        if isinstance(exc, RateLimitError):
            raise _Retryable(exc, retry_after) from None
        if rate_limited:
            raise _Retryable(RateLimitError("OVER_LIMIT", exc_text(exc), status, name), retry_after) from None
        if status >= 500:
            self._unknown_unless_safe(name, safe, f"server error HTTP {status}", status, exc)
            raise _Retryable(exc, retry_after) from None
        if isinstance(exc, ResponseParseError) and status < 300:
            self._unknown_unless_safe(name, safe, f"its answer could not be read ({exc.reason})", status, exc)
        raise exc from None

    def _contradiction(self, name: str, safe: bool, status: int, headers: httpx.Headers) -> NoReturn:
        """A ``SUCCESS`` body under a status other than 2xx contradicts itself: the body says it was
        done, the status that it was not (429: dropped; 5xx: failed). It is never taken as a
        success; a call that changes state is unknown (it may have happened, so it is not resent);
        a read is treated as the status says (429 and 5xx are retried)."""
        error = ResponseParseError(
            f"HTTP {status} with a SUCCESS body: contradictory, so not taken as a success",
            status_code=status,
            excerpt="",
            call=name,
        )
        self._unknown_unless_safe(name, safe, f"HTTP {status} with a SUCCESS body", status, error)
        self._fail(name, safe, status, headers, error)

    async def _exchange(self, url: httpx.URL, form: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        """One POST and its whole body, read within the size limit and the deadline; redirects are
        never followed (a send must not be re-posted to wherever a server points, nor over plain http).

        The deadline covers the whole exchange, so a server dripping bytes cannot outlast it. It is
        a bare cancel scope: ``anyio.fail_after``'s generator would cost a third more per attempt.

        Raises:
            TimeoutError: the deadline passed.
        """
        http = self._http
        seconds = self._deadline(http)
        deadline = None if seconds is None else anyio.current_time() + seconds
        with contextlib.nullcontext() if deadline is None else anyio.CancelScope(deadline=deadline):
            request = http.build_request(
                "POST", url, data=form, headers=self._request_headers, extensions=self._extensions
            )
            if "cookie" in request.headers:  # from an http_client of yours: the API needs none
                del request.headers["cookie"]
            response = await http.send(request, auth=self._auth, follow_redirects=False, stream=True)
            try:
                forget_cookies(http, response)
                body = await read_body(response, self._max_response_size, deadline)
                await close_if_overfull(response)
            finally:
                await response.aclose()
            return response.status_code, response.headers, body
        # reached only when the deadline cancelled the scope (no one else holds it)
        raise TimeoutError

    def _deadline(self, http: httpx.AsyncClient) -> float | None:
        """Seconds one exchange may take in all: the timeout, or the longest of an ``httpx.Timeout``'s.

        Worked out again only when the timeout is replaced, with the request extensions: the
        timeout in the form httpx wants (else it makes it again for every request) and the trace hook.
        """
        timeout = self._timeout if self._timeout is not None else http.timeout
        if timeout is not self._deadline_of:
            self._deadline_seconds = total_seconds(timeout)
            self._extensions = {**self._trace_extension, "timeout": httpx.Timeout(timeout).as_dict()}
            self._deadline_of = timeout
        return self._deadline_seconds

    async def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        # httpcore's trace hook: tell the limiter when the request really leaves (after any handshake)
        if event.endswith(".send_request_headers.started"):
            reservation = _SENDING.get()
            if reservation is not None:
                reservation.sent()
            elif self._on_sent is not None:
                self._on_sent()
            if self._flush_limiter is not None:  # a shared limiter tells the other processes
                await self._flush_limiter()

    @staticmethod
    def _unknown(name: str, safe: bool, what: str, status: int | None = None) -> OutcomeUnknownError | None:
        """The error for a call that changes state when ``what`` went wrong after sending, else None."""
        if safe:
            return None
        _emit("OutcomeUnknown", what)
        return OutcomeUnknownError.after(name, what, status_code=status)

    @classmethod
    def _unknown_unless_safe(
        cls, name: str, safe: bool, what: str, status: int | None, cause: SmsApiError
    ) -> None:
        error = cls._unknown(name, safe, what, status)
        if error is not None:
            raise error from cause  # our own error only, never an httpx one

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._connections.http()

    async def aclose(self) -> None:
        """Close the HTTP connections this client opened (not an ``http_client`` you passed)."""
        if self._owns_http:
            await self._connections.aclose()

    async def __aenter__(self) -> AsyncSmsClient:
        self._connections.open()  # the HTTP client is made on entry (else by the first call)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncSmsClient(base_url={self._base_url!r}, api_key={self._key_hint!r}, "
            f"response_format={self._format!r}, limiter={self._limiter!r})"
        )


def exc_text(exc: SmsApiError) -> str:
    """The human part of an error, for re-wrapping it."""
    return exc.description if isinstance(exc, ApiError) and isinstance(exc.description, str) else str(exc)


_MAX_TARGETS = 256
"""Call names whose URL a client keeps (the API has about 90 calls)."""

_SENDING: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar(
    "smsapi_async_sending", default=None
)
"""The limiter reservation of the request this task is sending (read by the trace hook)."""


class _Observed:
    """The call an event hook hears about (kept in a context variable while the call runs)."""

    __slots__ = ("attempt", "call", "call_id", "hooks")

    def __init__(self, hooks: list[EventHook], call_id: int, call: str) -> None:
        self.hooks = hooks
        self.call_id = call_id
        self.call = call
        self.attempt = 0


_CALL_IDS = itertools.count(1)
"""Call numbers for event hooks: unique across every client of the process."""

_OBSERVED: contextvars.ContextVar[_Observed | None] = contextvars.ContextVar(
    "smsapi_async_observed", default=None
)


_EventKind = Literal[
    "RequestSent", "ResponseReceived", "RateLimited", "LimiterPaused", "RetryScheduled", "OutcomeUnknown"
]


def _emit(kind: _EventKind, *fields: Any, attempt: Literal["this", "next"] | None = "this") -> None:
    """Tell the hooks of the call in progress, if it has any: the event class ``kind`` of
    :mod:`smsapi_async.events` with ``(call_id, call, [attempt,] *fields)``, with this attempt's
    number or (``"next"``) the next one's. Named, not passed, so that a client without hooks never
    loads the events module."""
    observed = _OBSERVED.get()
    if observed is None:
        return
    from . import _events  # noqa: PLC0415 (loaded on first use)

    make: Callable[..., ClientEvent] = getattr(_events, kind)
    if attempt is None:
        event = make(observed.call_id, observed.call, *fields)
    else:
        if attempt == "next":
            observed.attempt += 1
        event = make(observed.call_id, observed.call, observed.attempt, *fields)
    _events.emit(observed.hooks, event)


def _responded(status: int, code: str | None, elapsed: float) -> None:
    _emit("ResponseReceived", status, code, elapsed)


def _report(reservation: Reservation, error: SmsApiError, cause: BaseException | None) -> None:
    """Tell the limiter how an attempt that may be retried ended."""
    if isinstance(cause, _NOT_SENT):
        reservation.not_sent()
    elif isinstance(error, RateLimitError):
        reservation.answered(rejected=True)


class _Connections:
    """The ``httpx.AsyncClient`` of a client and of its :meth:`~AsyncSmsClient.with_options` copies.

    One the client owns is made on ``async with`` or the first call, not with the client: making
    one loads TLS certificates and the HTTP/1.1 machinery, which costs more than importing httpx.
    It is made before the limiter grants the call a place, so the time it takes never delays a
    granted request. After :meth:`aclose` none is made again, so a closed client fails as httpx's
    own closed client does.
    """

    __slots__ = ("_client", "_closed", "_headers", "_timeout", "_transport")

    def __init__(
        self,
        client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float | httpx.Timeout,
        headers: Mapping[str, str],
    ) -> None:
        self._client = client
        self._transport = transport
        self._timeout = timeout
        self._headers = headers
        self._closed = False

    def open(self) -> None:
        """Make the HTTP client, unless there is one or it was closed."""
        if self._client is None and not self._closed:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self._timeout,
                follow_redirects=False,
                headers=self._headers,
                cookies=refusing_cookies(),
            )

    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self.open()
            if self._client is None:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
        return self._client

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()


class _Hidden:
    """A secret kept out of reprs, logs and tracebacks' locals."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


class _Retryable(Exception):
    """Internal: this attempt failed in a way a retry may fix; ``error`` is raised if none is left."""

    def __init__(self, error: SmsApiError, delay: float | None = None) -> None:
        self.error = error
        self.delay = delay
        super().__init__(str(error))
