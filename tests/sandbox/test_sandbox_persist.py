"""The sandbox's --db: state and the callback queue survive a restart, through the real client and a
real process killed with SIGKILL; crafted and foreign files are refused with one clear line."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from smsapi_async import AsyncSmsClient
from smsapi_async.sandbox import Sandbox, SandboxConfig, StateStore, VirtualClock
from smsapi_async.sandbox.__main__ import main
from smsapi_async.sandbox._persist import StateFileError

DOCUMENT_TABLE = (
    "CREATE TABLE sandbox_document (id INTEGER PRIMARY KEY CHECK (id = 1), format TEXT NOT NULL,"
    " version INTEGER NOT NULL, saved_at REAL NOT NULL, data TEXT NOT NULL)"
)


def client_for(sandbox: Sandbox) -> AsyncSmsClient:
    account = sandbox.config.accounts[0]
    return AsyncSmsClient(
        account.api_key,
        account.api_secret,
        base_url="http://127.0.0.1",
        rate_limit=None,
        transport=httpx.ASGITransport(app=sandbox.app),
    )


@pytest.mark.anyio
async def test_state_written_by_calls_is_there_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    config = SandboxConfig(rate_limit=0)
    first = Sandbox(config, clock=VirtualClock(), store=StateStore(db))
    async with client_for(first) as client:
        created = await client.lists.add("Kept")
        await client.lists.add_contact(created.id, "61491570151", first_name="Ella")
        sent = await client.sms.send(message="kept too", to=["61400000001"])
    second = Sandbox(config, clock=VirtualClock(), store=StateStore(db))
    async with client_for(second) as client:
        assert [lst.name async for lst in client.lists.list()] == ["Kept"]
        assert (await client.sms.get(sent.message_id)).message == "kept too"
        assert (await client.lists.get(created.id)).name == "Kept"
        again = await client.sms.send(message="new id", to=["61400000001"])
        assert again.message_id == sent.message_id + 1


@pytest.mark.anyio
async def test_pending_receipts_scheduled_sends_and_retries_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    answers = [500]
    seen: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["message_id"] + ":" + request.url.params["status"])
        return httpx.Response(answers.pop(0) if answers else 200)

    config = SandboxConfig(rate_limit=0, callback_retry_scale=0.01)
    clock = VirtualClock(time.time())  # the client refuses a send_at in the real past
    url = "https://receiver.example/dlr"
    first = Sandbox(
        config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(receiver)
    )
    async with first.running(), client_for(first) as client:
        failing = await client.sms.send(message="retry me", to=["61491570151"], dlr_callback=url)
        clock.advance(2)
        await first.settle()
        assert seen == [f"{failing.message_id}:delivered"]  # answered 500: a retry is queued
        pending = await client.sms.send(message="due later", to=["61491570152"], dlr_callback=url)
        when = datetime.fromtimestamp(clock.now(), timezone.utc) + timedelta(hours=1)
        scheduled = await client.sms.send(
            message="scheduled", to=["61491570153"], dlr_callback=url, send_at=when
        )
    second = Sandbox(
        config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(receiver)
    )
    async with second.running():
        clock.advance(2 * 3600)
        await second.settle()
    assert sorted(seen[1:]) == sorted(
        [
            f"{failing.message_id}:delivered",
            f"{pending.message_id}:delivered",
            f"{scheduled.message_id}:delivered",
        ]
    )
    (retried,) = [d for d in second.callbacks.deliveries if len(d.attempts) == 2]
    assert retried.status == "delivered"


def test_an_empty_file_starts_a_fresh_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "new.sqlite")
    assert store.load() is None
    sandbox = Sandbox(SandboxConfig(), store=store)
    assert sandbox.state.accounts
    store.close()


def test_without_a_store_persist_does_nothing() -> None:
    sandbox = Sandbox(SandboxConfig())
    sandbox.persist()
    assert sandbox.store is None


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.path),))


def test_a_pickled_state_from_before_is_refused_and_never_run(tmp_path: Path) -> None:
    db, marker = tmp_path / "old.sqlite", tmp_path / "pwned"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sandbox_state (id INTEGER PRIMARY KEY, saved_at REAL, data BLOB)")
        conn.execute("INSERT INTO sandbox_state VALUES (1, 0, ?)", (pickle.dumps(_Marker(str(marker))),))
    conn.close()
    with pytest.raises(StateFileError, match="pickle"):
        Sandbox(SandboxConfig(), store=StateStore(db))
    assert not marker.exists()


@pytest.mark.parametrize(
    "document",
    [
        '{"ids": {}, "accounts": [{"id": "1"}], "messages": [], "responses": [], "deliveries": [], '
        '"queue": []}',
        '{"ids": [], "accounts": [], "messages": [], "responses": [], "deliveries": [], "queue": []}',
        '{"ids": {}, "accounts": [], "messages": [], "responses": [], "deliveries": [], '
        '"queue": [{"due": 1, "type": "os.system", "job": {}}]}',
        "not json",
        "[1, 2]",
    ],
)
def test_a_crafted_document_is_refused_with_one_line(tmp_path: Path, document: str) -> None:
    # a file as the sandbox wrote it before records (schema version 1: one JSON document)
    db = tmp_path / "crafted.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(DOCUMENT_TABLE)
        conn.execute("INSERT INTO sandbox_document VALUES (1, 'smsapi_async.sandbox', 1, 0, ?)", (document,))
    conn.close()
    with pytest.raises(StateFileError) as caught:
        StateStore(db).load()
    assert "\n" not in str(caught.value)


def test_foreign_files_and_missing_folders_are_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database " * 100)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    for path in (text, other, tmp_path / "missing" / "x.sqlite"):
        assert main(["--db", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "Traceback" not in err
        assert str(path) in err


class _Receiver:
    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        self.fail_first = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(dict(parse_qsl(urlsplit(self.path).query)))
                status = 500 if outer.fail_first and len(outer.hits) == 1 else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dlr"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(db: Path, port: int, receiver: _Receiver) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "smsapi_async.sandbox", "--port", str(port), "--db", str(db),
            "--rate-limit", "0", "--delivery-delay", "1", "--callback-retry-scale", "0.02",
            "--dlr-callback", receiver.url]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/get-balance.json", auth=("sandbox-key", "sandbox-secret"))
            return process
        except httpx.ConnectError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the sandbox did not start")


def _wait_for(condition: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_between_calls_loses_nothing_acknowledged(tmp_path: Path, receiver: _Receiver) -> None:
    db, port = tmp_path / "sandbox.sqlite", _free_port()
    auth = ("sandbox-key", "sandbox-secret")
    process = _start(db, port, receiver)
    try:
        base = f"http://127.0.0.1:{port}"
        first = httpx.post(f"{base}/send-sms.json", data={"message": "a", "to": "61491570151"}, auth=auth)
        assert first.status_code == 200
        assert _wait_for(lambda: len(receiver.hits) == 1)  # answered 500: a retry is queued
        when = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S")
        data = {"message": "b", "to": "61491570152", "send_at": when}
        scheduled = httpx.post(f"{base}/send-sms.json", data=data, auth=auth)
        pending = httpx.post(f"{base}/send-sms.json", data={"message": "c", "to": "61491570153"}, auth=auth)
        assert scheduled.status_code == pending.status_code == 200
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no shutdown hook runs
        process.wait(timeout=10)
    process = _start(db, port, receiver)
    try:
        wanted = {str(first.json()["message_id"]), str(scheduled.json()["message_id"]),
                  str(pending.json()["message_id"])}  # fmt: skip
        assert _wait_for(lambda: wanted <= {h["message_id"] for h in receiver.hits[1:]}), receiver.hits
    finally:
        process.terminate()
        process.wait(timeout=10)
