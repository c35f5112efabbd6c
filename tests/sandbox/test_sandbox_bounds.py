"""What the sandbox keeps is bounded: the callback delivery log is a ring buffer (in memory and in the
``--db`` file), lists, members and imports have caps answered with ``FIELD_INVALID``, and a page of a
large list costs O(page), not O(list)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, ValuesView
from pathlib import Path

import httpx
import pytest

from smsapi_async.sandbox import Sandbox, SandboxConfig, StateStore, VirtualClock
from smsapi_async.sandbox._callbacks import DELIVERY_LOG_SIZE
from smsapi_async.sandbox._state import MAX_LIST_MEMBERS, Contact, ContactList
from smsapi_async.sandbox.handlers.lists import MAX_LISTS

AUTH = ("sandbox-key", "sandbox-secret")


class CountingValues(dict[str, Contact]):
    """A members dict that counts how many members were walked through ``values()``."""

    walked = 0

    def values(self) -> ValuesView[Contact]:  # type: ignore[override]
        outer = self

        class Counted(ValuesView[Contact]):
            def __iter__(self) -> Iterator[Contact]:
                for value in dict.values(outer):
                    outer.walked += 1
                    yield value

        return Counted(self)


async def full_list(sandbox: Sandbox, c: httpx.AsyncClient, size: int) -> ContactList:
    answer = (await c.post("/add-list.json", data={"name": "Big"})).json()
    account = next(iter(sandbox.state.accounts.values()))
    contact_list = account.lists[answer["id"]]
    members = CountingValues()
    for i in range(size):
        msisdn = f"6149{i:07d}"
        members[msisdn] = Contact(list_id=contact_list.id, msisdn=msisdn, created_at=0.0)
    contact_list.members = members
    return contact_list


@pytest.mark.anyio
async def test_paging_a_large_list_walks_it_once_not_once_per_page(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    sandbox, c = sandbox_http
    contact_list = await full_list(sandbox, c, 100_000)
    members = contact_list.members
    assert isinstance(members, CountingValues)
    walked_per_page = []
    for page in (1, 2, 500, 1000, 1):
        before = members.walked
        answer = (
            await c.get("/get-list.json", params={"list_id": contact_list.id, "page": page, "max": 100})
        ).json()
        walked_per_page.append(members.walked - before)
        assert answer["page"] == {"count": 1000, "number": page}
        assert answer["members"][0]["msisdn"] == int(f"6149{(page - 1) * 100:07d}")
        assert answer["members_active"] == 100_000
    # The first page builds the list's view once; every later page of the unchanged list is a slice.
    assert walked_per_page[0] <= 100_000
    assert walked_per_page[1:] == [0, 0, 0, 0]
    # A change (a member deleted) is seen by the next page.
    await c.post("/delete-from-list.json", data={"list_id": contact_list.id, "msisdn": "61490000000"})
    answer = (await c.get("/get-list.json", params={"list_id": contact_list.id, "max": 1})).json()
    assert answer["members_active"] == 99_999
    assert answer["members"][0]["msisdn"] == 61490000001
    inactive = (
        await c.get("/get-list.json", params={"list_id": contact_list.id, "members": "inactive"})
    ).json()
    assert [m["msisdn"] for m in inactive["members"]] == [61490000000]


@pytest.mark.anyio
async def test_a_full_list_refuses_more_members_and_imports_skip_what_does_not_fit(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    sandbox, c = sandbox_http
    contact_list = await full_list(sandbox, c, MAX_LIST_MEMBERS - 1)
    ok = await c.post("/add-to-list.json", data={"list_id": contact_list.id, "msisdn": "61491570151"})
    assert ok.status_code == 200
    refused = await c.post("/add-to-list.json", data={"list_id": contact_list.id, "msisdn": "61491570152"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "FIELD_INVALID"
    assert str(MAX_LIST_MEMBERS) in refused.json()["error"]["description"]
    assert len(contact_list.members) == MAX_LIST_MEMBERS
    csv = "data:text/csv,mobile%0A61491570151%0A61491570153%0A61491570154"
    await c.post("/add-contacts-bulk.json", data={"list_id": contact_list.id, "file_url": csv})
    await sandbox.settle()
    progress = (await c.get("/add-contacts-bulk-progress.json", params={"list_id": contact_list.id})).json()
    assert (progress["status"], progress["duplicates"], progress["skipped"], progress["imported"]) == (
        "completed",
        1,
        2,
        0,
    )
    assert len(contact_list.members) == MAX_LIST_MEMBERS


@pytest.mark.anyio
async def test_an_account_holds_a_bounded_number_of_lists(
    sandbox_http: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    sandbox, c = sandbox_http
    account = next(iter(sandbox.state.accounts.values()))
    for i in range(MAX_LISTS):
        account.lists[i + 1] = ContactList(i + 1, f"L{i}", 0.0)
    for call, data in [
        ("add-list", {"name": "one more"}),
        ("add-contacts-bulk", {"name": "x", "file_url": "data:,"}),
    ]:
        answer = await c.post(f"/{call}.json", data=data)
        assert answer.status_code == 400, call
        assert answer.json()["error"]["code"] == "FIELD_INVALID"
    assert len(account.lists) == MAX_LISTS


def emit_unusable(sandbox: Sandbox, count: int) -> None:
    account = next(iter(sandbox.state.accounts.values()))
    for i in range(count):
        sandbox.callbacks.emit("dlr", account, "http://[::1", [("n", str(i))])


@pytest.mark.anyio
async def test_the_delivery_log_is_a_ring_buffer_in_memory_and_in_the_file(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    config = SandboxConfig(rate_limit=0, callback_retry_scale=0.01)
    answers = [500]
    seen: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["n"])
        return httpx.Response(answers.pop(0) if answers else 200)

    clock = VirtualClock()
    first = Sandbox(config, clock=clock, callback_transport=httpx.MockTransport(receiver))
    account = next(iter(first.state.accounts.values()))
    async with first.running():
        first.callbacks.emit("dlr", account, "https://receiver.example/dlr", [("n", "kept")])
        await first.settle()
        assert seen == ["kept"]  # answered 500: a retry is queued
    emit_unusable(first, DELIVERY_LOG_SIZE + 5)
    log = first.callbacks.deliveries
    assert len(log) == DELIVERY_LOG_SIZE
    assert dict(log[-1].params)["n"] == str(DELIVERY_LOG_SIZE + 4)
    assert all(d.params != [("n", "kept")] for d in log)  # dropped from the log, yet still queued
    store = StateStore(db)
    store.save(first.state, first.callbacks.queued(), first.callbacks.deliveries)
    store.close()
    with sqlite3.connect(db) as raw:
        data = "".join(row[0] for row in raw.execute("SELECT data FROM sandbox_records"))
    assert data.count('"kind":"dlr"') == DELIVERY_LOG_SIZE + 1  # the log plus the queued retry

    second = Sandbox(
        config, clock=clock, store=StateStore(db), callback_transport=httpx.MockTransport(receiver)
    )
    assert len(second.callbacks.deliveries) == DELIVERY_LOG_SIZE
    async with second.running():
        clock.advance(3600)
        await second.settle()
    assert seen == ["kept", "kept"]  # the retry survived the restart
    emit_unusable(second, 1)
    ids = [d.id for d in second.callbacks.deliveries]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert second.store is not None
    second.store.close()
