"""The ``Sandbox`` object: state, clock, rate limiter, callback worker and the ASGI app around them."""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from ._app import build_app
from ._callbacks import CallbackQueue, DlrDue, Job
from ._chaos import SlidingWindowLimiter
from ._clock import FunctionClock, SandboxClock, VirtualClock, WallClock
from ._config import SandboxConfig
from ._lifecycle import fire_dlr, receive_inbound, recipient_status, record_link_hit
from ._persist import StateStore
from ._phone import normalise
from ._samesite import normalise_hosts
from ._state import Account, Response, State, datetime_text
from .handlers.lists import run_bulk_import

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["Sandbox"]

REQUEST_LOG_SIZE = 1000


class Sandbox:
    """A stateful, in-memory emulator of the Transmit SMS v1 API.

    ``app`` is the ASGI application; callbacks (DLR, reply, link-hit, list-action) and bulk imports are
    carried out by :meth:`run_background`, which the owner runs in a task group (the CLI does it in the
    app's lifespan; :meth:`running` does it for tests). ``clock`` is a :class:`VirtualClock` (time moves
    only with :meth:`advance`), any ``() -> float`` callable, or the system clock by default.
    ``callback_transport`` replaces the network for outgoing callbacks (e.g. ``httpx.MockTransport``).
    ``store`` keeps the state in a SQLite file across runs: loaded here, saved by :meth:`persist`.

    ``allowed_hosts``: ``None`` (the default, right in process) answers any ``Host``; otherwise only IP
    literals, ``localhost``, ``*.localhost`` and these names are served (:func:`serve_in_thread` and
    the command line switch this on; set it if you serve :attr:`app` with your own ASGI server).
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: SandboxClock | Callable[[], float] | None = None,
        callback_transport: httpx.AsyncBaseTransport | None = None,
        store: StateStore | None = None,
        allowed_hosts: Iterable[str] | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.allowed_hosts = None if allowed_hosts is None else normalise_hosts(allowed_hosts)
        self.store = store
        if clock is None:
            clock = WallClock()
        elif not isinstance(clock, SandboxClock):
            clock = FunctionClock(clock)
        self.clock: SandboxClock = clock
        self.rng = random.Random(self.config.seed)
        self.callbacks = CallbackQueue(
            self.config,
            self.clock,
            callback_transport,
            run_job=self._run_job,
            run_import=functools.partial(run_bulk_import, self),
            on_change=self.persist,  # the worker retries a failed save (see CallbackQueue.run)
        )
        self.limiter = SlidingWindowLimiter(self.config.rate_limit)
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.state = State(self.config, self.clock.now())
        if store is not None:
            store.config = self.config
            saved = store.load()
            if saved is not None:
                self.state = saved.state
                self.callbacks.restore(saved.queue, saved.deliveries, saved.sequence)
        self._app: ASGIApp | None = None
        self.worker_running = False

    def __repr__(self) -> str:
        return f"<Sandbox accounts={len(self.state.accounts)} clock={self.clock!r}>"

    @property
    def app(self) -> ASGIApp:
        """The ASGI application (built on first use)."""
        if self._app is None:
            self._app = build_app(self)
        return self._app

    def _run_job(self, job: Job) -> None:
        if isinstance(job, DlrDue):
            fire_dlr(self, job)

    async def run_background(self) -> None:
        """Deliver callbacks and run bulk imports until cancelled."""
        self.worker_running = True
        try:
            await self.callbacks.run()
        finally:
            self.worker_running = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Sandbox]:
        """``async with sandbox.running():`` runs :meth:`run_background` for the block's duration."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.run_background)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def settle(self) -> None:
        """Wait until every callback/import due by now has been attempted (needs the worker)."""
        await self.callbacks.settle()

    def persist(self) -> None:
        """Save what changed to the ``store`` given at construction, if any (``--db``); without
        one, forget it.

        Raises:
            StateSaveError: the save failed (disk full...); the next one writes everything.
        """
        if self.store is not None:
            self.store.save_changes(self.state, self.callbacks)
        else:
            self.state.changes.discard()
            self.callbacks.changes.discard()

    def undo_unsaved(self) -> None:
        """Undo what changed since the last save that succeeded: the state is read back from the
        ``store`` and the callbacks queued since are dropped. Only for a call run between two saves
        with nothing else in between (``_app._run_saved``)."""
        if self.store is None:
            return
        saved = self.store.load()
        self.state = saved.state if saved is not None else State(self.config, self.clock.now())
        self.callbacks.drop_unsaved()

    def advance(self, seconds: float) -> float:
        """Move a virtual clock forward; raises ``TypeError`` for a real clock."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("only a VirtualClock can be advanced")
        return self.clock.advance(seconds)

    def reset(self) -> None:
        """Forget every message, list, client, callback and logged request; restore the accounts."""
        self.state = State(self.config, self.clock.now())
        self.callbacks.clear()
        self.limiter.reset()
        self.requests.clear()
        self.rng = random.Random(self.config.seed)

    def account(self, api_key: str | None = None) -> Account:
        """The account with this API key (default: the first configured account)."""
        if api_key is None:
            return next(iter(self.state.accounts.values()))
        try:
            return self.state.by_key[api_key]
        except KeyError:
            raise LookupError(f"no account with API key {api_key!r}") from None

    def inject_reply(
        self,
        mobile: str,
        message: str,
        *,
        to: str | None = None,
        message_id: int | None = None,
        api_key: str | None = None,
    ) -> Response:
        """Simulate an SMS from ``mobile``: a reply to the last message sent to it (or to
        ``message_id``), or an inbound SMS to the virtual number ``to``. STOP words opt out."""
        msisdn = normalise(mobile)
        if msisdn is None:
            raise ValueError(f"not a valid international number: {mobile!r}")
        account = self.account(api_key) if api_key else None
        number = normalise(to) if to else None
        return receive_inbound(
            self, msisdn=msisdn, text=message, to=number, message_id=message_id, account=account
        )

    def link_hit(self, message_id: int, mobile: str) -> int:
        """Simulate ``mobile`` opening the tracked link of a message; returns its hit count."""
        message = self.state.messages.get(message_id)
        msisdn = normalise(mobile)
        recipient = next((r for r in message.recipients if r.msisdn == msisdn), None) if message else None
        if message is None or recipient is None:
            raise LookupError("no such message/recipient")
        record_link_hit(self, message, recipient)
        return recipient.link_hits

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary of the state (what ``GET /_sandbox/state`` returns)."""
        now = self.clock.now()
        return {
            "now": datetime_text(now),
            "virtual_clock": self.clock.is_virtual,
            "accounts": [
                {
                    "id": a.id,
                    "api_key": a.api_key,
                    "name": a.name,
                    "reseller": a.reseller,
                    "parent_id": a.parent_id,
                    "balance": round(a.balance, 3),
                    "currency": a.currency,
                    "numbers": list(a.numbers),
                    "lists": [{"id": lst.id, "name": lst.name} for lst in a.lists.values()],
                    "optouts": list(a.optouts),
                    "callbacks": {
                        "dlr": a.dlr_callback,
                        "reply": a.reply_callback,
                        "link_hits": a.link_hits_callback,
                    },
                }
                for a in self.state.accounts.values()
            ],
            "messages": [
                {
                    "id": m.id,
                    "account_id": m.account_id,
                    "send_at": datetime_text(m.send_at),
                    "cancelled": m.cancelled,
                    "text": m.text,
                    "recipients": {r.msisdn: recipient_status(r, now) for r in m.recipients},
                }
                for m in self.state.messages.values()
            ],
            "responses": len(self.state.responses),
            "callbacks": len(self.callbacks.deliveries),
        }
