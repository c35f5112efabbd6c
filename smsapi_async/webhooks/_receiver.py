"""``CallbackReceiver``: a plain ASGI app that takes every callback kind, verified and de-duplicated.

What it answers (the platform retries any non-2xx answer after about 1 min, 5 min, 1 h and 24 h):

======  ========================================================================================
200     a new callback, handed once to ``on_event`` (which returned); or a repeat of a callback
        already handled, which is not handed on again
400     malformed or ambiguous: the body says why (``reason: ...``); nothing is handed on
401     ``verify=True`` and the callback carries neither a signature header nor a URL token
403     ``verify=True`` and the signature and URL token are both wrong (or the token expired)
405     not GET or HEAD (HEAD is answered 200 without handling: some senders probe URLs with it)
409     a repeat of a callback whose first delivery is still being handled: not acknowledged,
        so that if the first fails, a later retry is handled (``Retry-After`` says when to retry)
414     the query string is over ``max_query_bytes``
500     ``on_event`` raised or ran past ``handler_timeout``: the event is forgotten, so the
        platform's retry hands it on again
503     the de-duplication store failed or did not answer within ``store_timeout``: same
======  ========================================================================================

Input never causes a 5xx: a 500 or 503 means your handler or your store failed, and answering
non-2xx then is what gets the event delivered again. Keep ``on_event`` quick (the platform waits
for the answer); hand slow work to a queue or a task group.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final

import anyio

from .._exceptions import InvalidRequestError
from .._signature import SIGNATURE_HEADER
from .._validate import optional_flag, seconds, whole_number
from ._dedup import DedupStore, MemoryDedupStore
from ._errors import InvalidCallbackError
from ._events import Event, parse_callback
from ._hub import CallbackHub
from ._query import _MAX_CAP, MAX_PARAMS, MAX_QUERY_BYTES, TOKEN_PARAM, query_bytes, split_query
from ._verify import check_secret, platform_signature_matches, verify_callback_url, verify_signature

if TYPE_CHECKING:
    from .._client import AsyncSmsClient

__all__ = ["CallbackReceiver", "EventHandler"]

log = logging.getLogger("smsapi_async.webhooks")

EventHandler = Callable[[Event], "Awaitable[None] | None"]
"""``on_event``: a coroutine function (or a plain function) taking one event."""

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def dedup_digest(event: Event) -> str:
    """The store key of an event: a digest of its :attr:`~CallbackEvent.dedup_key`."""
    return hashlib.sha256(repr(event.dedup_key).encode("utf-8")).hexdigest()[:32]


RETRY_AFTER: Final = 60
"""Seconds a repeat answered 409 is told to wait (the platform's first retry comes after a minute)."""

_DEDUP_METHODS: Final = ("claim", "complete", "release")


class CallbackReceiver:
    """An ASGI app receiving the platform's callbacks on whatever path it is mounted at.

    Args:
        on_event: called once per accepted event (``DeliveryReport``, ``Reply``, ``LinkHit`` or
            ``ListAction``); a coroutine function or a plain function. If it raises, the answer
            is 500 and the event is forgotten, so the platform's retry brings it back.
        api_secret: the account's API secret, to check signatures and signed-URL tokens; taken
            from ``client`` when not given.
        verify: refuse callbacks that carry neither a valid ``x-transmitsms-signature`` header
            nor a valid token of :meth:`AsyncSmsClient.callback_url` (401 when neither is there,
            403 when they are wrong). ``False`` accepts any well-formed callback: only for
            development, or behind your own authentication.
        client: an :class:`AsyncSmsClient` whose ``sms.wait_for_delivery`` and
            ``sms.reply_stream`` should see the accepted events at once instead of polling.
        dedup: where events being handled and handled are remembered (default: a
            :class:`MemoryDedupStore` of the last 100 000). Share one store between processes
            (:class:`RedisDedupStore`) to de-duplicate across them.
        handler_timeout: seconds a coroutine ``on_event`` may run; past it, it is cancelled and
            the answer is 500, so the platform retries (a plain function cannot be interrupted).
        store_timeout: seconds each call to ``dedup`` may take; past it the answer is 503.
        claim_lease: how long a claim on an event lasts, so that a retry arriving while it is
            handled gets 409, and one arriving after the handling process died is handled.
            Default: ``handler_timeout + 2 * store_timeout + 5`` (it must be longer than that
            sum, so a live handler never loses its claim).
        max_query_bytes: the most bytes a callback's query may have.
        max_params: the most parameters a callback may have.

    Run it with any ASGI server (``uvicorn app:receiver``), or route a path to it in
    Starlette/FastAPI (``app.add_route("/sms-hooks", receiver)``). Not ``app.mount("/sms-hooks",
    ...)`` with a URL ending in ``/sms-hooks``: a mount answers that path with a redirect, which
    the platform does not follow (mounted, the callback URL needs the trailing slash).
    """

    def __init__(
        self,
        on_event: EventHandler | None = None,
        *,
        api_secret: str | None = None,
        verify: bool = True,
        client: AsyncSmsClient | None = None,
        dedup: DedupStore | None = None,
        handler_timeout: float = 20.0,
        store_timeout: float = 5.0,
        claim_lease: float | None = None,
        max_query_bytes: int = MAX_QUERY_BYTES,
        max_params: int = MAX_PARAMS,
    ) -> None:
        if on_event is None and client is None:
            raise InvalidRequestError("give on_event, client, or both: accepted events must go somewhere")
        if on_event is not None and not callable(on_event):
            raise InvalidRequestError("on_event must be callable")
        from .._client import AsyncSmsClient  # noqa: PLC0415 (the client module imports this one)

        if client is not None and not isinstance(client, AsyncSmsClient):
            raise InvalidRequestError(f"client must be an AsyncSmsClient, got {type(client).__name__}")
        optional_flag("verify", verify)
        whole_number("max_query_bytes", max_query_bytes, 0, _MAX_CAP)
        whole_number("max_params", max_params, 0, _MAX_CAP)
        if dedup is not None and not all(callable(getattr(dedup, m, None)) for m in _DEDUP_METHODS):
            raise InvalidRequestError(
                f"dedup must be a DedupStore (methods claim, complete, release), got {type(dedup).__name__}"
            )
        self._handler_timeout = seconds("handler_timeout", handler_timeout)
        self._store_timeout = seconds("store_timeout", store_timeout)
        least = self._handler_timeout + 2 * self._store_timeout
        if claim_lease is None:
            self._lease = least + 5.0
        else:
            self._lease = seconds("claim_lease", claim_lease)
            if self._lease <= least:
                raise InvalidRequestError(
                    f"claim_lease must be longer than handler_timeout + 2 * store_timeout ({least:g} s), "
                    "or a live handler could lose its claim"
                )
        if api_secret is None and client is not None:
            api_secret = client._secret.value
        if verify:
            if api_secret is None:
                raise InvalidRequestError("verify=True needs api_secret (or client) to check signatures")
            check_secret(api_secret)
        self._on_event = on_event
        self._secret = api_secret
        self._verify = bool(verify)
        self._hub: CallbackHub | None = client.callback_hub if client is not None else None
        if self._hub is not None:
            self._hub.receivers += 1
        self._dedup: DedupStore = dedup if dedup is not None else MemoryDedupStore()
        self._max_bytes = max_query_bytes
        self._max_params = max_params
        self.stats: dict[str, int] = dict.fromkeys(
            ("accepted", "duplicate", "in_progress", "malformed", "unauthenticated", "forged", "failed"), 0
        )
        """How many callbacks got each outcome (for your metrics)."""

    def __repr__(self) -> str:
        return f"<CallbackReceiver verify={self._verify} dedup={self._dedup!r}>"

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope.get("method", "GET")
        if method == "HEAD":
            await _answer(send, 200, "", head=True)
            return
        if method != "GET":
            await _answer(send, 405, "callbacks are GET requests", headers=[(b"allow", b"GET, HEAD")])
            return
        headers = {name.decode("latin-1").lower(): value for name, value in scope.get("headers", ())}
        signature = headers.get(SIGNATURE_HEADER)
        status, text = await self.handle(
            scope.get("query_string", b""), None if signature is None else signature.decode("latin-1")
        )
        retry = [(b"retry-after", str(RETRY_AFTER).encode())] if status in (409, 503) else None
        await _answer(send, status, text, headers=retry)

    async def handle(self, query: str | bytes, signature: str | None) -> tuple[int, str]:
        """Process one callback; return the HTTP status and a short text to answer with.

        The ASGI app calls this; use it directly to wire the receiver into another kind of
        server (``query`` is the raw query string, ``signature`` the header's value or ``None``).
        """
        raw = query_bytes(query)
        if len(raw) > self._max_bytes:
            self.stats["malformed"] += 1
            return 414, f"reason: too_large (query over {self._max_bytes} bytes)"
        if self._verify:
            try:
                refused = self._authenticate(raw, signature)
            except Exception:  # a bug of ours must not turn hostile input into a 5xx
                log.exception("callback signature check failed unexpectedly; refusing the callback")
                self.stats["forged"] += 1
                refused = 403, "signature could not be checked"
            if refused is not None:
                return refused
        try:
            event = parse_callback(raw, max_bytes=self._max_bytes, max_params=self._max_params)
        except InvalidCallbackError as exc:
            self.stats["malformed"] += 1
            log.info("callback refused: %s", exc)
            return 400, f"reason: {exc.reason} ({exc})"
        except Exception:  # same: input never causes a 5xx
            self.stats["malformed"] += 1
            log.exception("callback could not be parsed")
            return 400, "reason: bad_value (unparseable)"
        key = dedup_digest(event)
        try:
            with anyio.fail_after(self._store_timeout):
                state = await self._dedup.claim(key, self._lease)
        except Exception:
            self.stats["failed"] += 1
            log.exception("callback de-duplication store failed; answering 503 so the platform retries")
            return 503, "de-duplication store unavailable"
        if state == "done":
            self.stats["duplicate"] += 1
            return 200, "duplicate"
        if state != "new":
            # the first delivery is being handled: acknowledging this one would lose the event if
            # that handling then fails, since the platform stops retrying after a 2xx
            self.stats["in_progress"] += 1
            return 409, "in progress: retry later"
        try:
            with anyio.fail_after(self._handler_timeout):
                await self._deliver(event)
        except Exception as exc:
            await self._forget(key)
            self.stats["failed"] += 1
            why = "timed out" if isinstance(exc, TimeoutError) else "failed"
            log.exception(
                "callback handler %s on a %s event; answering 500 so the platform retries", why, event.kind
            )
            return 500, f"handler {why}"
        except BaseException:
            await self._forget(key)
            raise
        with anyio.CancelScope(shield=True):
            try:
                with anyio.fail_after(self._store_timeout):
                    await self._dedup.complete(key)
            except Exception:  # handled all the same: a repeat within the lease gets 409, later ones 200
                log.exception("callback de-duplication store failed to record a handled event")
        self.stats["accepted"] += 1
        return 200, "ok"

    def _authenticate(self, raw: bytes, signature: str | None) -> tuple[int, str] | None:
        assert self._secret is not None
        has_token = TOKEN_PARAM.encode() in raw
        # checked even when the header is absent, so that absence costs what a wrong value costs
        if verify_signature(raw, signature, self._secret):
            return None
        if signature is None and not has_token:
            self.stats["unauthenticated"] += 1
            return 401, f"unsigned: no {SIGNATURE_HEADER} header and no URL token"
        if signature is not None and has_token and self._signed_after_token(raw, signature):
            return None
        if has_token and verify_callback_url(raw, self._secret):
            return None
        self.stats["forged"] += 1
        log.warning("callback refused: signature or URL token invalid or expired")
        return 403, "signature or URL token invalid"

    def _signed_after_token(self, raw: bytes, signature: str) -> bool:
        assert self._secret is not None
        try:
            pairs = split_query(raw, max_bytes=self._max_bytes, max_params=self._max_params)
        except InvalidCallbackError:
            return False
        return platform_signature_matches(pairs, signature, self._secret)

    async def _deliver(self, event: Event) -> None:
        if self._on_event is not None:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        if self._hub is not None:
            self._hub.publish(event)

    async def _forget(self, key: str) -> None:
        with anyio.CancelScope(shield=True):
            try:
                with anyio.fail_after(self._store_timeout):
                    await self._dedup.release(key)
            except Exception:
                log.exception("callback de-duplication store failed to forget a failed event")


async def _answer(
    send: _Send,
    status: int,
    text: str,
    *,
    head: bool = False,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: _Receive, send: _Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
