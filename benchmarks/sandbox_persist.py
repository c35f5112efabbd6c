"""What ``--db`` costs the sandbox per call, with 10, 1 000 and 10 000 messages already stored.

``python -m benchmarks.sandbox_persist [--quick]``. Each size starts from a sandbox holding that many
one-recipient messages (and as many contacts in one list), then makes write calls through the real
ASGI app (send-sms, add-to-list on the big list, edit-list-member, cancel-sms) and times the save each
one triggers. The last column is one full rewrite of the same state (what the first save of a fresh
state, a reset or the conversion of an older file costs; before saves were incremental, every call
paid a full rewrite of one JSON document), measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx

from smsapi_async.sandbox import Sandbox, SandboxConfig, StateStore, VirtualClock
from smsapi_async.sandbox._callbacks import CallbackQueue
from smsapi_async.sandbox._lifecycle import new_recipient
from smsapi_async.sandbox._state import Contact, ContactList, Message, State

from . import Table

__all__ = ["fill", "persist_cost"]

AUTH = ("sandbox-key", "sandbox-secret")


def fill(sandbox: Sandbox, messages: int) -> ContactList:
    """Store ``messages`` one-recipient messages and a list of as many contacts; returns the list."""
    state, account, now = sandbox.state, sandbox.account(), sandbox.clock.now()
    big = ContactList(state.next_id("list"), "Everyone", now)
    account.lists[big.id] = big
    state.touch_list(account, big)
    for i in range(messages):
        msisdn = f"614{i:08d}"
        recipient = new_recipient(sandbox, msisdn, "stored", parts=1, send_at=now, validity=0)
        message = Message(state.next_id("message"), account.id, "stored", "Sandbox", now, now, "api")
        message.recipients.append(recipient)
        state.add_message(message)
        contact = Contact(list_id=big.id, msisdn=msisdn, created_at=now)
        big.members[msisdn] = contact
        state.touch_contact(big, contact)
    sandbox.persist()
    return big


class _TimedStore(StateStore):
    """A store that times each incremental save."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seconds: list[float] = []

    def save_changes(self, state: State, callbacks: CallbackQueue) -> None:
        started = time.perf_counter()
        super().save_changes(state, callbacks)
        self.seconds.append(time.perf_counter() - started)


async def _calls(sandbox: Sandbox, big: ContactList, rounds: int) -> None:
    transport = httpx.ASGITransport(sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", auth=AUTH) as client:

        async def call(name: str, **params: Any) -> dict[str, Any]:
            answer = await client.post(f"/{name}.json", data={k: str(v) for k, v in params.items()})
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

        for i in range(rounds):
            msisdn = f"6149157{i:04d}"
            await call("send-sms", message="hello", to=msisdn)
            await call("add-to-list", list_id=big.id, msisdn=msisdn, first_name="New")
            await call("edit-list-member", list_id=big.id, msisdn=msisdn, last_name="Edited")
            later = await call("send-sms", message="later", to=msisdn, send_at="2099-01-01 00:00:00")
            await call("cancel-sms", id=later["message_id"])


def _measure(messages: int, rounds: int, folder: Path) -> tuple[str, ...]:
    store = _TimedStore(folder / f"state-{messages}.sqlite")
    sandbox = Sandbox(SandboxConfig(rate_limit=0), clock=VirtualClock(), store=store)
    big = fill(sandbox, messages)
    store.seconds.clear()
    rows_before, bytes_before = store.written
    anyio.run(_calls, sandbox, big, rounds)
    calls = len(store.seconds)
    rows, bytes_ = store.written[0] - rows_before, store.written[1] - bytes_before
    started = time.perf_counter()
    store.save(sandbox.state, sandbox.callbacks.queued(), sandbox.callbacks.deliveries)
    full = time.perf_counter() - started
    store.close()
    return (
        f"{messages:,}",
        f"{statistics.median(store.seconds) * 1e3:.2f}",
        f"{rows / calls:.1f}",
        f"{bytes_ / calls:,.0f}",
        f"{full * 1e3:.1f}",
    )


def persist_cost(sizes: Sequence[int] = (10, 1_000, 10_000), rounds: int = 40) -> Table:
    """Milliseconds per save (median over the calls), records and bytes written per call, and one
    full rewrite of the same state, for each number of stored messages."""
    with tempfile.TemporaryDirectory() as folder:
        rows = tuple(_measure(n, rounds, Path(folder)) for n in sizes)
    return Table(
        title="Sandbox --db: what one write call's save costs, by messages stored",
        columns=("stored messages", "ms per save", "records per call", "bytes per call", "full rewrite ms"),
        rows=rows,
        note=f"{rounds} rounds of send-sms, add-to-list, edit-list-member, send-sms (scheduled), cancel-sms",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a second or two")
    args = parser.parse_args()
    table = persist_cost(rounds=3) if args.quick else persist_cost()
    from rich.console import Console  # noqa: PLC0415 -- only when run as a script

    from .__main__ import render  # noqa: PLC0415

    render(table, Console(), 0.0)


if __name__ == "__main__":
    main()
