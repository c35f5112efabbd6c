"""The sandbox's --db writes only what changed: after every call, admin action and worker job the file
equals a full rewrite of the live state; a call writes as many records and bytes with 10 000 stored
messages as with 10; and hostile records are refused with one clear line."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest

from benchmarks.sandbox_persist import fill, persist_cost
from smsapi_async.sandbox import Sandbox, SandboxConfig, StateStore, VirtualClock, _callbacks
from smsapi_async.sandbox.__main__ import main
from smsapi_async.sandbox._persist import StateFileError, _dumps, _records
from smsapi_async.sandbox.handlers import HANDLERS

AUTH = ("sandbox-key", "sandbox-secret")
BASE = "http://127.0.0.1"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def full_rewrite(sandbox: Sandbox) -> list[tuple[str, str, Any]]:
    """The records a full rewrite of the live sandbox would write, in order."""
    callbacks = sandbox.callbacks
    records = _records(sandbox.state, callbacks.entries(), callbacks.deliveries)
    return [(kind, key, json.loads(_dumps(value))) for kind, key, value in records]


def in_order(records: list[tuple[str, str, Any]], kind: str) -> dict[str, list[str]]:
    """The keys of ``kind`` per owner (list or account), in file order."""
    owners: dict[str, list[str]] = {}
    for k, key, _ in records:
        if k == kind:
            owners.setdefault(key.partition(":")[0], []).append(key)
    return owners


def check_file_equals_full_rewrite(sandbox: Sandbox, db: Path, step: str) -> None:
    expected = full_rewrite(sandbox)
    assert sandbox.store is not None
    written = [(kind, key, json.loads(data)) for kind, key, data in sandbox.store.records()]
    expected_rows = {(kind, key): value for kind, key, value in expected}
    written_rows = {(kind, key): value for kind, key, value in written}
    missing = expected_rows.keys() - written_rows.keys()
    extra = written_rows.keys() - expected_rows.keys()
    assert not missing, (step, sorted(missing)[:5])
    assert not extra, (step, sorted(extra)[:5])
    stale = [row for row, value in expected_rows.items() if written_rows[row] != value]
    assert not stale, (step, stale[:5])
    # contacts and opt-outs keep the order they were added in
    for kind in ("contact", "optout"):
        assert in_order(written, kind) == in_order(expected, kind), step
    # and what a restart loads is the live state, field for field and in the same order
    store = StateStore(db)
    store.config = sandbox.config
    saved = store.load()
    store.close()
    assert saved is not None
    entries = [(due, seq, job) for (due, job), seq in zip(saved.queue, saved.sequence or [], strict=True)]
    loaded = [
        (k, key, json.loads(_dumps(v))) for k, key, v in _records(saved.state, entries, saved.deliveries)
    ]
    assert loaded == expected, step


class Driver:
    def __init__(self, sandbox: Sandbox, clock: VirtualClock, client: httpx.AsyncClient, db: Path) -> None:
        self.sandbox, self.clock, self.client, self.db = sandbox, clock, client, db
        self.calls: set[str] = set()
        self.steps = 0

    def check(self, step: str) -> None:
        self.steps += 1
        check_file_equals_full_rewrite(self.sandbox, self.db, step)

    async def ok(self, call: str, /, **params: Any) -> dict[str, Any]:
        answer = await self.client.post(f"/{call}.json", data={k: str(v) for k, v in params.items()})
        assert answer.status_code == 200, (call, params, answer.text)
        self.calls.add(call)
        self.check(f"{call} {params}")
        body: dict[str, Any] = answer.json()
        return body

    async def admin(self, path: str, /, **data: Any) -> dict[str, Any]:
        answer = await self.client.post(f"/_sandbox/{path}", json=data)
        assert answer.status_code == 200, (path, data, answer.text)
        self.check(f"admin {path} {data}")
        body: dict[str, Any] = answer.json()
        return body

    async def work(self, seconds: float) -> None:
        """Let the worker run every job due in the next ``seconds`` (receipts, deliveries, imports)."""
        self.clock.advance(seconds)
        await self.sandbox.settle()
        self.check(f"worker after {seconds} s")


@pytest.fixture
async def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Driver]:
    monkeypatch.setattr(_callbacks, "DELIVERY_LOG_SIZE", 6)  # so deliveries drop out of the log
    attempts: dict[str, int] = {}

    def receiver(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        attempts[path] = attempts.get(path, 0) + 1
        return httpx.Response(500 if path == "/flaky" and attempts[path] == 1 else 200)

    db = tmp_path / "sandbox.sqlite"
    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0, callback_retry_scale=0.001)
    sandbox = Sandbox(
        config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(receiver)
    )
    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox.app), base_url=BASE, auth=AUTH) as client,
    ):
        yield Driver(sandbox, clock, client, db)
    assert sandbox.store is not None
    sandbox.store.close()


def data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


@pytest.mark.anyio
async def test_after_every_call_admin_action_and_worker_job_the_file_equals_a_full_rewrite(
    driver: Driver,
) -> None:
    d = driver
    hook = "https://receiver.example/flaky"
    await d.admin("settings", dlr_callback="https://receiver.example/dlr", reply_callback=hook)
    lst = await d.ok("add-list", name="Customers", field_1="Email")
    list_id = lst["id"]
    await d.ok("add-field-to-list", list_id=list_id, field_2="City")
    await d.admin("list-automation", list_id=list_id, forward_url="https://receiver.example/list")
    for n in range(3):
        await d.ok("add-to-list", list_id=list_id, msisdn=f"6149157015{n}", first_name=f"N{n}", field_1="e")
    await d.ok("edit-list-member", list_id=list_id, msisdn="61491570151", last_name="Changed", field_2="X")
    await d.ok("get-contact", list_id=list_id, msisdn="61491570151")
    await d.ok("get-list", list_id=list_id)
    await d.ok("get-lists")
    sent = await d.ok(
        "send-sms", message="Hi [firstname]", list_id=list_id, tracked_link_url="https://t.example"
    )
    one = await d.ok("send-sms", message="direct", to="61491570160,61491570169", dlr_callback=hook)
    later = await d.ok("send-sms", message="later", to="61491570161", send_at="2099-01-01 00:00:00")
    await d.ok("cancel-sms", id=later["message_id"])
    await d.ok("send-sms", message="scheduled", to="61491570162", send_at="2099-01-02 00:00:00")
    await d.work(5)  # receipts fall due; deliveries (one answered 500, retried later)
    await d.ok("message-reply", message="re", to="61491570160")
    await d.admin("inbound", mobile="61491570150", message="Thanks", message_id=sent["message_id"])
    await d.admin("inbound", mobile="61491570152", message="STOP")
    await d.admin("link-hit", message_id=sent["message_id"], mobile="61491570151")
    await d.admin("link-hit", message_id=sent["message_id"], mobile="61491570151")
    await d.work(60)
    await d.ok("delete-from-list", list_id=list_id, msisdn="61491570150")
    await d.ok("optout-list-member", list_id=list_id, msisdn="61491570151")
    await d.ok("add-to-list", list_id=list_id, msisdn="61491570153")
    await d.ok("optout-list-member", msisdn="61491570153")
    await d.ok("add-keyword", keyword="JOIN", number="61400000000")
    await d.ok("edit-keyword", keyword="JOIN", number="61400000000", reference="r", status="Open")
    await d.ok("get-keywords")
    await d.admin("inbound", mobile="61491570170", message="join please", to="61400000000")
    await d.ok("get-numbers")
    leased = await d.ok("lease-number")
    number = str(leased["number"])
    await d.ok("edit-number-options", number=number, forward_url="https://receiver.example/fwd")
    await d.ok("get-number", number=number)
    await d.ok("get-sender-ids")
    await d.ok("add-email", email="a@b.example", max_sms=2)
    await d.ok("delete-email", email="a@b.example")
    csv = "mobile,firstname,email\n61491570180,Imp,i@x\n61491570181,Ort,o@x\n61491570150,Again,a@x\n"
    bulk = await d.ok("add-contacts-bulk", list_id=list_id, file_url=data_url(csv))
    await d.work(1)
    await d.ok("add-contacts-bulk-progress", list_id=bulk["list_id"])
    await d.ok("add-contacts-bulk", name="Imported", file_url=data_url("61491570190,A,B\n"))
    await d.work(1)
    client = await d.ok("add-client", name="C", email="c@c.example", password="pw", msisdn="61491570158")
    await d.ok("edit-client", client_id=client["id"], name="C2")
    await d.ok("get-client", client_id=client["id"])
    await d.ok("get-clients")
    await d.admin("credit", amount=12.5)
    await d.ok("get-balance")
    await d.ok("get-transactions", client_id=client["id"])
    await d.ok("get-transaction", id=next(iter(d.sandbox.account().transactions)).id)
    message_id = sent["message_id"]
    for call in ("get-sms", "get-sms-stats", "get-sms-responses", "get-link-hits", "get-sms-sent"):
        await d.ok(call, message_id=message_id)
    await d.ok("get-sms-delivery-status", message_id=message_id, msisdn="61491570151")
    await d.ok("get-message-report")
    await d.ok("get-contact-sms-stats", mobile="61491570152")
    await d.ok("get-message-log", message_id=one["message_id"], mobile="61491570160")
    for call in ("get-sms-sent-count", "get-user-sms-sent", "get-user-sms-responses"):
        await d.ok(call, start="2023-12-31 00:00:00", end="2024-01-06 00:00:00")
    await d.ok("format-number", msisdn="0491570151", countrycode="AU")
    await d.ok("remove-list", list_id=list_id)
    await d.work(24 * 3600)  # every retry done
    assert one["message_id"]
    assert d.calls == set(HANDLERS), sorted(set(HANDLERS) - d.calls)
    await d.admin("reset")
    await d.ok("send-sms", message="after reset", to="61491570151")
    await d.work(5)
    assert d.steps > 60


# --- the cost of a call does not grow with the state ----------------------------------------------


async def _written_per_call(tmp_path: Path, messages: int) -> list[tuple[str, int, int]]:
    """(step, records written, bytes written) for a fixed run of calls, admin actions and worker jobs,
    on a sandbox already holding ``messages`` messages and a list of as many contacts."""
    clock = VirtualClock()
    store = StateStore(tmp_path / f"{messages}.sqlite")
    sandbox = Sandbox(
        SandboxConfig(rate_limit=0),
        clock=clock,
        store=store,
        callback_transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
    big = fill(sandbox, messages)
    costs: list[tuple[str, int, int]] = []

    def record(step: str, before: tuple[int, int]) -> None:
        costs.append((step, store.written[0] - before[0], store.written[1] - before[1]))

    async with (
        sandbox.running(),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox.app), base_url=BASE, auth=AUTH) as client,
    ):

        async def call(name: str, /, **params: Any) -> dict[str, Any]:
            before = store.written
            answer = await client.post(f"/{name}.json", data={k: str(v) for k, v in params.items()})
            assert answer.status_code == 200, answer.text
            record(name, before)
            body: dict[str, Any] = answer.json()
            return body

        async def admin(path: str, /, **data: Any) -> None:
            before = store.written
            assert (await client.post(f"/_sandbox/{path}", json=data)).status_code == 200
            record(path, before)

        async def work(seconds: float) -> None:
            before = store.written
            clock.advance(seconds)
            await sandbox.settle()
            record(f"worker {seconds}", before)

        hook = "https://receiver.example/dlr"
        sent = await call("send-sms", message="one", to="61491570151", dlr_callback=hook)
        await call("add-to-list", list_id=big.id, msisdn="61491570152", first_name="New")
        await call("edit-list-member", list_id=big.id, msisdn="61491570152", last_name="Edited")
        await call("delete-from-list", list_id=big.id, msisdn="61400000001")
        await call("optout-list-member", list_id=big.id, msisdn="61400000002")
        later = await call("send-sms", message="later", to="61491570153", send_at="2099-01-01 00:00:00")
        await call("cancel-sms", id=later["message_id"])
        small = await call("add-list", name="Small")
        await call("add-to-list", list_id=small["id"], msisdn="61491570154")
        await call("send-sms", message="to the list", list_id=small["id"], dlr_callback=hook)
        await call("get-balance")
        await call("get-sms", message_id=sent["message_id"])
        await work(5)
        await admin("inbound", mobile="61491570151", message="thanks", message_id=sent["message_id"])
        await admin("link-hit", message_id=sent["message_id"], mobile="61491570151")
        await admin("credit", amount=5)
        await call("add-contacts-bulk", list_id=big.id, file_url=data_url("61491570155,A,B\n"))
        await work(1)
    store.close()
    return costs


@pytest.mark.anyio
async def test_a_call_writes_the_same_records_and_bytes_with_10_000_messages_stored_as_with_10(
    tmp_path: Path,
) -> None:
    few = await _written_per_call(tmp_path, 10)
    many = await _written_per_call(tmp_path, 10_000)
    assert many == few
    for step, records, size in few:
        if step.startswith("get-"):
            assert (records, size) == (0, 0), step  # reads write nothing
        else:
            assert 0 < records <= 20, (step, records)
            assert size < 8_000, (step, size)


# --- hostile records, and files from before records -----------------------------------------------


def saved_file(tmp_path: Path) -> Path:
    """A state file holding an account, a list with a contact, a message and a queued receipt."""
    db = tmp_path / "state.sqlite"
    sandbox = Sandbox(SandboxConfig(), clock=VirtualClock(), store=StateStore(db))
    big = fill(sandbox, 2)
    sandbox.callbacks.schedule(
        sandbox.clock.now() + 5, _callbacks.DlrDue(next(iter(sandbox.state.messages)), 0)
    )
    sandbox.state.touch_list(sandbox.account(), big)
    sandbox.persist()
    assert sandbox.store is not None
    sandbox.store.close()
    return db


def tamper(db: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    with sqlite3.connect(db) as conn:
        for sql, args in statements:
            assert conn.execute(sql, args).rowcount == 1, sql
    conn.close()


def refused(db: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The command line refuses ``db`` with exit code 2 and one line, which is returned."""
    assert main(["--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    with pytest.raises(StateFileError) as caught:
        StateStore(db).load()
    assert "\n" not in str(caught.value)
    return str(caught.value)


UPDATE = "UPDATE sandbox_records SET data = ? WHERE kind = ? AND rowid = (SELECT min(rowid) FROM sandbox_records WHERE kind = ?)"  # noqa: E501


@pytest.mark.parametrize(
    ("kind", "data", "says"),
    [
        ("message", "{not json", "does not hold JSON"),
        ("message", '{"id": "1"}', "is not an integer"),
        ("message", "[1, 2]", "is not Message fields"),
        ("message", '{"id": 1, "recipients": []}', "only (not recipients)"),  # recipients are records
        ("account", '{"id": 54911, "lists": {}}', "only (not lists, optouts, transactions)"),
        ("contact", '{"__reduce__": "os.system"}', "field"),
        ("recipient", '{"message_id": 1, "recipient": null}', "is not Recipient fields"),
        ("job", '{"due": 1, "type": "os.system", "job": {}}', "is not a known job"),
        ("job", '{"due": "NaN", "type": "dlr", "job": {"message_id": 1, "index": 0}}', "is not a number"),
        ("ids", '{"message": 1.5}', "is not an integer"),
        ("list", '{"account_id": 1, "list": {"id": 4200001, "name": "x", "created": null}}', "owned by"),
    ],
)
def test_a_corrupted_or_foreign_record_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, data: str, says: str
) -> None:
    db = saved_file(tmp_path)
    tamper(db, (UPDATE, (data, kind, kind)))
    assert says in refused(db, capsys)


def test_a_record_keyed_by_another_id_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = saved_file(tmp_path)
    tamper(db, ("UPDATE sandbox_records SET key = '7' WHERE kind = 'account'", ()))
    assert "keyed by its id" in refused(db, capsys)


def test_a_record_of_an_unknown_kind_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = saved_file(tmp_path)
    tamper(db, ("INSERT INTO sandbox_records (kind, key, data) VALUES ('os.system', '1', '{}')", ()))
    assert "record kind 'os.system' is not known" in refused(db, capsys)


def test_a_newer_schema_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = saved_file(tmp_path)
    schema = '{"format": "smsapi_async.sandbox", "version": 3}'
    tamper(db, ("UPDATE sandbox_records SET data = ? WHERE kind = 'schema'", (schema,)))
    assert "schema version 3, written by a newer sandbox" in refused(db, capsys)
    tamper(db, ("UPDATE sandbox_records SET data = ? WHERE kind = 'schema'", ('{"format": "other"}',)))
    assert "not a sandbox state file" in refused(db, capsys)
    tamper(db, ("DELETE FROM sandbox_records WHERE kind = 'schema'", ()))
    assert "schema record is not present" in refused(db, capsys)


@pytest.mark.anyio
async def test_a_file_from_before_records_is_converted_on_open_and_keeps_its_queue(tmp_path: Path) -> None:
    """A schema version 1 file (one JSON document, as the sandbox wrote it before) is rewritten as
    records when opened: same state, same queue, and the receipt it had queued still fires."""
    seen: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["status"])
        return httpx.Response(200)

    transport = httpx.MockTransport(receiver)
    clock = VirtualClock()
    config = SandboxConfig(rate_limit=0)
    first = Sandbox(config, clock=clock, callback_transport=transport)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(first.app), base_url=BASE, auth=AUTH) as c:
        lst = (await c.post("/add-list.json", data={"name": "Old"})).json()
        await c.post("/add-to-list.json", data={"list_id": lst["id"], "msisdn": "61491570151"})
        hook = "https://receiver.example/dlr"
        await c.post("/send-sms.json", data={"message": "m", "list_id": lst["id"], "dlr_callback": hook})
    state = first.state

    def asdict(obj: Any) -> Any:  # as the sandbox saved its entities before records
        return attrs.asdict(obj, filter=lambda field, _: field.init)

    document = {
        "ids": state.counters(),
        "accounts": [asdict(a) for a in state.accounts.values()],
        "messages": [asdict(m) for m in state.messages.values()],
        "responses": [],
        "deliveries": [],
        "queue": [{"due": due, "type": "dlr", "job": asdict(job)} for due, job in first.callbacks.queued()],
    }
    db = tmp_path / "v1.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE sandbox_document (id INTEGER PRIMARY KEY CHECK (id = 1), format TEXT NOT NULL,"
            " version INTEGER NOT NULL, saved_at REAL NOT NULL, data TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO sandbox_document VALUES (1, 'smsapi_async.sandbox', 1, 0, ?)",
            (json.dumps(document),),
        )
    conn.close()
    second = Sandbox(config, clock=clock, store=StateStore(db), callback_transport=transport)
    assert full_rewrite(second) == full_rewrite(first)
    with sqlite3.connect(db) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"sandbox_records"}
    assert second.store is not None
    check_file_equals_full_rewrite(second, db, "converted")
    async with second.running():
        clock.advance(5)
        await second.settle()
    assert seen == ["delivered"]
    second.store.close()


@pytest.mark.anyio
async def test_a_delivery_cut_short_by_a_kill_is_attempted_again_after_the_restart(tmp_path: Path) -> None:
    """The job record of a delivery stays in the file until its attempt is recorded: a process
    killed while a receiver is answering makes the attempt again after the restart."""
    db = tmp_path / "state.sqlite"
    config, clock = SandboxConfig(rate_limit=0), VirtualClock()
    release, started = anyio.Event(), anyio.Event()

    async def hanging(request: httpx.Request) -> httpx.Response:
        started.set()
        await release.wait()
        return httpx.Response(200)

    seen: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["n"])
        return httpx.Response(200)

    first = Sandbox(
        config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(hanging)
    )
    async with first.running():
        first.callbacks.emit("dlr", first.account(), "https://receiver.example/dlr", [("n", "1")])
        first.persist()
        with anyio.fail_after(5):
            await started.wait()
        # the attempt is under way: the file is what SIGKILL would leave now
        second = Sandbox(
            config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(receiver)
        )
        async with second.running():
            await second.settle()
        release.set()
    assert seen == ["1"]
    assert [d.status for d in second.callbacks.deliveries] == ["delivered"]
    assert second.store is not None
    check_file_equals_full_rewrite(second, db, "after the repeated attempt")
    second.store.close()


@pytest.mark.anyio
async def test_a_worker_started_again_after_being_cancelled_finishes_what_it_cut_short(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.sqlite"
    answer, started = anyio.Event(), anyio.Event()
    seen: list[str] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["n"])
        started.set()
        if len(seen) == 1:
            await answer.wait()  # the first attempt never ends: the worker is cancelled during it
        return httpx.Response(200)

    sandbox = Sandbox(
        SandboxConfig(),
        clock=VirtualClock(),
        store=StateStore(db),
        callback_transport=httpx.MockTransport(receiver),
    )
    async with sandbox.running():
        sandbox.callbacks.emit("dlr", sandbox.account(), "https://receiver.example/dlr", [("n", "1")])
        with anyio.fail_after(5):
            await started.wait()
    assert [d.status for d in sandbox.callbacks.deliveries] == ["queued"]
    async with sandbox.running():
        await sandbox.settle()
    assert seen == ["1", "1"]
    assert [d.status for d in sandbox.callbacks.deliveries] == ["delivered"]
    check_file_equals_full_rewrite(sandbox, db, "after the second worker")
    assert sandbox.store is not None
    sandbox.store.close()


def test_the_benchmark_fills_its_table_with_the_same_records_per_call_at_each_size() -> None:
    table = persist_cost(sizes=(10, 200), rounds=1)
    assert table.column("stored messages") == ["10", "200"]
    assert len(set(table.column("records per call"))) == 1
    assert len(set(table.column("bytes per call"))) == 1
    assert all(float(cell) > 0 for cell in table.column("ms per save") + table.column("full rewrite ms"))
