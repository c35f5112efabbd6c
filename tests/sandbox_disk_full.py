"""Run by tests/sandbox/test_sandbox_failures.py inside a mount namespace (``unshare -m``): a sandbox whose
``--db`` lives on a small tmpfs that is filled up, then freed. Prints one JSON line of what it saw.

Not a test module: it mounts a filesystem, which only a private mount namespace may do safely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio

from smsapi_async import AsyncSmsClient, OutcomeUnknownError
from smsapi_async.sandbox import AccountConfig, Sandbox, SandboxConfig, serve_app_in_thread, serve_in_thread
from smsapi_async.sandbox._persist import StateStore


class Receiver:
    """Counts delivery receipts."""

    def __init__(self) -> None:
        self.receipts: list[str] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        with self.lock:
            self.receipts.append(scope.get("query_string", b"").decode())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


async def sends(client: AsyncSmsClient, count: int, first: int) -> tuple[list[int], int]:
    acknowledged, refused = [], 0
    for i in range(count):
        try:
            sent = await client.sms.send(message="Your parcel is here", to=f"614000{first + i:05d}")
            acknowledged.append(sent.message_id)
        except OutcomeUnknownError:
            refused += 1
    return acknowledged, refused


def main(folder: Path) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(folder)], check=True)
    receiver = Receiver()
    report: dict[str, Any] = {}
    with serve_app_in_thread(receiver) as hooks:
        config = SandboxConfig(
            accounts=(AccountConfig(balance=1000.0, dlr_callback=f"{hooks}/dlr"),),
            rate_limit=0,
            delivery_delay=0.3,
        )
        store = StateStore(folder / "state.db")
        sandbox = Sandbox(config, store=store)
        with serve_in_thread(sandbox) as url:

            async def run() -> None:
                async with AsyncSmsClient(
                    "sandbox-key", "sandbox-secret", base_url=url, rate_limit=None, max_retries=0
                ) as client:
                    before, _ = await sends(client, 3, 1)
                    filler = fill(folder)  # before their receipts fall due (0.3 s)
                    await anyio.sleep(1.5)  # the receipts fall due while the disk is full
                    report["receipts_while_full"] = len(receiver.receipts)
                    during, refused = await sends(client, 30, 100)
                    report["refused"] = refused
                    report["acknowledged"] = len(before) + len(during)
                    report["messages_in_memory"] = len(sandbox.state.messages)
                    report["balance_in_memory"] = sandbox.account().balance
                    filler.unlink()  # space again: saves and receipts go on
                    after, _ = await sends(client, 3, 501)
                    await anyio.sleep(2.0)
                    report["acknowledged"] += len(after)
                    report["receipts_total"] = len(receiver.receipts)
                    report["messages_final"] = len(sandbox.state.messages)
                    report["balance_final"] = sandbox.account().balance

            anyio.run(run)
        store.close()
    reloaded = Sandbox(
        SandboxConfig(accounts=(AccountConfig(balance=1000.0),)), store=StateStore(folder / "state.db")
    )
    report["messages_reloaded"] = len(reloaded.state.messages)
    report["balance_reloaded"] = reloaded.account().balance
    print(json.dumps(report), flush=True)
    os.sync()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
